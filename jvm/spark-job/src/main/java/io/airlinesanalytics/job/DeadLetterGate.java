package io.airlinesanalytics.job;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.api.java.UDF8;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The dead-letter gate: the last word on a record the fast path did not take. It says
 * why the record is rejected, or that it is valid after all (in another form than the
 * producers'), and sends a rejected one to the dead-letter topic.
 *
 * <p>In the job's filter {@code checked AND rules hold OR gate(...)}, a valid record in
 * the producers' form never calls it; for any other record it returns whether to keep it.
 * The reason is the job's own: the full diagnosis of the record's bytes (a Spark SQL
 * expression, {@link SparkExpressions}) for a record the fast path did not check, else
 * the cross-field rules it breaks; the message sent is the job's own too (key, value and
 * headers, another Spark SQL projection).
 *
 * <p>This is how the job reads its topics once: rejected records leave from inside the
 * analytics query instead of a second query reading and validating everything again.
 * Sends are asynchronous, through one idempotent producer ({@code acks=all}) per
 * configuration and executor JVM; when the Spark task ends, the producer is flushed and
 * every send of the task is checked, and one that failed fails the task, and with it the
 * micro-batch (which a restart replays: dead letters are at least once). The function is
 * registered as non-deterministic, so that the optimizer neither drops, moves nor
 * duplicates it.
 *
 * <p>Arguments: key, value, topic, partition, offset (the Kafka record), whether the fast
 * path checked it, whether the reader could read it, and the cross-field rules it breaks
 * (null: none).
 */
public final class DeadLetterGate
    implements UDF8<byte[], byte[], String, Integer, Long, Boolean, Boolean, String, Boolean> {
  private static final long serialVersionUID = 1L;

  private static final Map<Map<String, Object>, Producer<byte[], byte[]>> PRODUCERS =
      new ConcurrentHashMap<>();
  private static final Map<Long, List<Future<RecordMetadata>>> PENDING =
      new ConcurrentHashMap<>();

  private final String topic;
  private final HashMap<String, Object> producerConfig;
  /** value -> the record's problems but the cross-field rules (null: none). */
  private final SparkExpressions diagnosis;
  /** key, value, topic, partition, offset, reason -> the dead letter's key, value, headers. */
  private final SparkExpressions message;
  /** The reason of a record the full validation accepts but the reader could not read. */
  private final String unreadable;

  DeadLetterGate(
      String topic,
      Map<String, String> producerConfig,
      SparkExpressions diagnosis,
      SparkExpressions message,
      String unreadable) {
    this.topic = topic;
    this.producerConfig = new HashMap<>(producerConfig);
    this.producerConfig.put("key.serializer", ByteArraySerializer.class.getName());
    this.producerConfig.put("value.serializer", ByteArraySerializer.class.getName());
    this.producerConfig.put("enable.idempotence", "true");
    this.producerConfig.put("acks", "all");
    this.diagnosis = diagnosis;
    this.message = message;
    this.unreadable = unreadable;
  }

  @Override
  public Boolean call(
      byte[] key,
      byte[] value,
      String sourceTopic,
      Integer partition,
      Long offset,
      Boolean checked,
      Boolean readable,
      String rulesBroken)
      throws Exception {
    String reason = null;
    if (!checked) {
      Object problem = diagnosis.apply(new GenericInternalRow(new Object[] {value})).get(0, null);
      reason = problem != null ? problem.toString() : readable ? null : unreadable;
    }
    if (reason == null) {
      reason = rulesBroken;
    }
    if (reason == null) {
      return Boolean.TRUE;
    }
    InternalRow letter =
        message.apply(
            new GenericInternalRow(
                new Object[] {
                  key,
                  value,
                  UTF8String.fromString(sourceTopic),
                  partition,
                  offset,
                  UTF8String.fromString(reason)
                }));
    send(letter);
    return Boolean.FALSE;
  }

  private void send(InternalRow letter) throws Exception {
    RecordHeaders headers = new RecordHeaders();
    ArrayData array = letter.getArray(2);
    for (int i = 0; i < array.numElements(); i++) {
      InternalRow header = array.getStruct(i, 2);
      headers.add(header.getUTF8String(0).toString(), header.getBinary(1));
    }
    byte[] key = letter.isNullAt(0) ? null : letter.getBinary(0);
    byte[] value = letter.isNullAt(1) ? null : letter.getBinary(1);
    Future<RecordMetadata> sent =
        producer().send(new ProducerRecord<>(topic, null, key, value, headers));
    TaskContext task = TaskContext.get();
    if (task == null) { // evaluated outside a task: wait for this one send
      sent.get();
    } else {
      pending(task).add(sent);
    }
  }

  private Producer<byte[], byte[]> producer() {
    return PRODUCERS.computeIfAbsent(producerConfig, KafkaProducer::new);
  }

  /** The sends of this task attempt; the first one registers the check at its end. */
  private List<Future<RecordMetadata>> pending(TaskContext task) {
    long attempt = task.taskAttemptId();
    List<Future<RecordMetadata>> sends = PENDING.get(attempt);
    if (sends == null) {
      sends = new ArrayList<>();
      PENDING.put(attempt, sends);
      Producer<byte[], byte[]> producer = producer();
      task.addTaskCompletionListener(
          (org.apache.spark.util.TaskCompletionListener) done -> confirm(producer, attempt));
    }
    return sends;
  }

  /** Flush, then fail (the task) if any send of this attempt failed. */
  private void confirm(Producer<byte[], byte[]> producer, long attempt) {
    List<Future<RecordMetadata>> sends = PENDING.remove(attempt);
    if (sends == null) {
      return;
    }
    producer.flush();
    for (Future<RecordMetadata> sent : sends) {
      try {
        sent.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted confirming dead letters", e);
      } catch (ExecutionException e) {
        throw new IllegalStateException(
            "dead letter not written to topic " + topic + ": " + e.getCause(), e.getCause());
      }
    }
  }

  /** Close every producer of this JVM (the job calls this when it stops). */
  public static void closeAll() {
    for (Producer<byte[], byte[]> producer : PRODUCERS.values()) {
      producer.close();
    }
    PRODUCERS.clear();
  }
}
