package io.airlinesanalytics.job;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.InterpretedProjection;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import scala.collection.immutable.Seq;

/**
 * The columns of a one-projection DataFrame, as Spark optimized them, evaluated outside
 * of a query plan: {@code apply} turns a row of the frame's input into its columns.
 *
 * <p>The gate uses it for what only the records it receives need (the full diagnosis,
 * the dead letter's headers): Spark SQL expressions, defined once with the job's other
 * transformations, but kept out of the streaming plan, which Spark optimizes and ships
 * to the executors again every micro-batch. What travels with each task is the bytes of
 * the serialized projection; each JVM reads them once, and each thread has its own
 * copy (an expression may keep state while it runs, such as a lambda's variable).
 */
final class SparkExpressions implements Serializable {
  private static final long serialVersionUID = 1L;

  private static final Map<String, ThreadLocal<InterpretedProjection>> LOADED =
      new ConcurrentHashMap<>();

  private final byte[] serialized;
  private final String id;

  private SparkExpressions(byte[] serialized) {
    this.serialized = serialized;
    this.id = sha256(serialized);
  }

  /** The projection of {@code frame}: a {@code select} over a relation of its inputs. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static SparkExpressions of(org.apache.spark.sql.classic.Dataset<Row> frame) {
    LogicalPlan plan = frame.queryExecution().optimizedPlan();
    if (!(plan instanceof Project)) {
      throw new IllegalArgumentException("expected one projection, got " + plan.nodeName());
    }
    Project project = (Project) plan;
    Seq<Attribute> input = project.child().output();
    Seq<Expression> columns = (Seq) project.projectList();
    new InterpretedProjection(columns, input); // fails here, not on an executor, if unbound
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(columns);
      out.writeObject(input);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new SparkExpressions(bytes.toByteArray());
  }

  InternalRow apply(InternalRow input) {
    return LOADED
        .computeIfAbsent(id, key -> ThreadLocal.withInitial(this::load))
        .get()
        .apply(input);
  }

  private InterpretedProjection load() {
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(serialized)) {
          @Override
          protected Class<?> resolveClass(java.io.ObjectStreamClass desc)
              throws IOException, ClassNotFoundException {
            return Class.forName(
                desc.getName(), false, Thread.currentThread().getContextClassLoader());
          }
        }) {
      @SuppressWarnings("unchecked")
      Seq<Expression> columns = (Seq<Expression>) in.readObject();
      @SuppressWarnings("unchecked")
      Seq<Attribute> input = (Seq<Attribute>) in.readObject();
      InterpretedProjection projection = new InterpretedProjection(columns, input);
      projection.initialize(0);
      return projection;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException("cannot read the gate's expressions", e);
    }
  }

  private static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
