package io.airlinesanalytics.job;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/** Registers the job's JVM functions in a session (called from Python through Py4J). */
public final class JobFunctions {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private JobFunctions() {}

  /**
   * Register the event reader ({@link EventReader}) as {@code name}.
   *
   * @param fieldsJson the contract's fields in order: a JSON array of objects with
   *     {@code name}, {@code kind} (string, integer, number), and optional {@code format}
   *     (uuid, date-time), {@code pattern} (a Java regex), {@code min_length}, {@code max_length}, {@code enum},
   *     {@code minimum}, {@code exclusive_minimum}, {@code maximum}, {@code
   *     exclusive_maximum}
   * @param returnTypeJson the Spark type of the row it returns, as JSON
   */
  public static void registerEventReader(
      SparkSession session, String name, String fieldsJson, String returnTypeJson)
      throws IOException {
    List<Map<String, Object>> specs =
        MAPPER.readValue(fieldsJson, new TypeReference<List<Map<String, Object>>>() {});
    List<FieldCheck> checks = new ArrayList<>();
    for (Map<String, Object> spec : specs) {
      @SuppressWarnings("unchecked")
      List<String> allowed = (List<String>) spec.get("enum");
      checks.add(
          new FieldCheck(
              (String) spec.get("name"),
              FieldCheck.Kind.valueOf(((String) spec.get("kind")).toUpperCase(Locale.ROOT)),
              format((String) spec.get("format")),
              (String) spec.get("pattern"),
              integer(spec.get("min_length")),
              integer(spec.get("max_length")),
              allowed == null ? null : new HashSet<>(allowed),
              number(spec.get("minimum")),
              number(spec.get("exclusive_minimum")),
              number(spec.get("maximum")),
              number(spec.get("exclusive_maximum"))));
    }
    DataType returnType = DataType.fromJson(returnTypeJson);
    String timeZone = session.conf().get("spark.sql.session.timeZone");
    session.udf().register(name, functions.udf(new EventReader(checks, timeZone), returnType));
  }

  /**
   * Register the dead-letter gate ({@link DeadLetterGate}) as {@code name},
   * non-deterministic.
   *
   * @param diagnosis a DataFrame of one column, the full diagnosis, over a relation of the
   *     record's {@code value}
   * @param message a DataFrame of the dead letter's key, value and headers over a relation
   *     of the record's key, value, topic, partition, offset and the reason
   */
  public static void registerDeadLetterGate(
      SparkSession session,
      String name,
      String topic,
      String producerConfigJson,
      org.apache.spark.sql.classic.Dataset<Row> diagnosis,
      org.apache.spark.sql.classic.Dataset<Row> message,
      String unreadable)
      throws IOException {
    Map<String, String> config =
        MAPPER.readValue(producerConfigJson, new TypeReference<Map<String, String>>() {});
    DeadLetterGate gate =
        new DeadLetterGate(
            topic,
            config,
            SparkExpressions.of(diagnosis),
            SparkExpressions.of(message),
            unreadable);
    UserDefinedFunction udf = functions.udf(gate, DataTypes.BooleanType).asNondeterministic();
    session.udf().register(name, udf);
  }

  private static FieldCheck.Format format(String name) {
    if (name == null) {
      return null;
    }
    switch (name) {
      case "uuid":
        return FieldCheck.Format.UUID;
      case "date-time":
        return FieldCheck.Format.DATE_TIME;
      default:
        throw new IllegalArgumentException("the fast path does not know the format " + name);
    }
  }

  private static Integer integer(Object value) {
    return value == null ? null : ((Number) value).intValue();
  }

  private static Double number(Object value) {
    return value == null ? null : ((Number) value).doubleValue();
  }
}
