package io.airlinesanalytics.job;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF1;

/**
 * Reads a record's bytes into the contract's fields, typed, plus whether they are
 * already known to be valid ({@code checked}); null when it cannot read them.
 *
 * <p>The fast path: a record in the producers' own form is read in one pass over its
 * bytes and every field is checked on the way ({@link FieldCheck}); it comes back
 * {@code checked}. That form is a strict subset of JSON: one object, no whitespace,
 * exactly the contract's keys in the contract's order (none twice, none unknown),
 * strings without escapes or control characters in valid UTF-8, numbers in JSON's
 * grammar.
 *
 * <p>Any other record is read as Spark's {@code from_json} reads it (Jackson; a key it
 * does not know is skipped; a date-time is cast by Spark's own function) and comes back
 * unchecked: the job's full validation (Spark SQL) judges it. Only the values of the
 * records that validation accepts are used, and for those both readers give what
 * {@code from_json} gives; a property test checks both claims.
 */
public final class EventReader implements UDF1<byte[], Row> {
  private static final long serialVersionUID = 1L;

  private static final JsonFactory JSON =
      JsonFactory.builder().disable(StreamReadFeature.AUTO_CLOSE_SOURCE).build();

  private final FieldCheck[] fields;
  /** {@code {"name":} for the first field, {@code ,"name":} for the others. */
  private final byte[][] prefixes;
  private final HashMap<String, Integer> positions = new HashMap<>();
  /** The session's time zone, for Spark's cast of a date-time without an offset. */
  private final String timeZone;

  public EventReader(List<FieldCheck> fields, String timeZone) {
    this.fields = fields.toArray(new FieldCheck[0]);
    this.timeZone = timeZone;
    this.prefixes = new byte[this.fields.length][];
    for (int i = 0; i < this.fields.length; i++) {
      String prefix = (i == 0 ? "{" : ",") + "\"" + this.fields[i].name + "\":";
      prefixes[i] = prefix.getBytes(StandardCharsets.UTF_8);
      positions.put(this.fields[i].name, i);
    }
  }

  @Override
  public Row call(byte[] value) {
    if (value == null) {
      return null;
    }
    Object[] values = new Object[fields.length + 1];
    if (readChecked(value, values)) {
      values[fields.length] = Boolean.TRUE;
      return RowFactory.create(values);
    }
    java.util.Arrays.fill(values, null);
    if (readTolerant(value, values)) {
      values[fields.length] = Boolean.FALSE;
      return RowFactory.create(values);
    }
    return null;
  }

  private boolean readChecked(byte[] value, Object[] values) {
    int at = 0;
    for (int i = 0; i < fields.length; i++) {
      if (!startsWith(value, at, prefixes[i])) {
        return false;
      }
      at += prefixes[i].length;
      int end = fields[i].read(value, at, values, i);
      if (end < 0) {
        return false;
      }
      at = end;
    }
    return at == value.length - 1 && value[at] == '}';
  }

  private boolean readTolerant(byte[] value, Object[] values) {
    ZoneId zone = ZoneId.of(timeZone);
    try (JsonParser parser = JSON.createParser(value)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return false;
      }
      JsonToken token;
      while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
        Integer position = positions.get(parser.currentName());
        JsonToken valueToken = parser.nextToken();
        if (position == null) {
          parser.skipChildren();
          continue;
        }
        Object read = fields[position].readToken(parser, valueToken, zone);
        if (read == null) {
          return false;
        }
        values[position] = read;
      }
      if (token != JsonToken.END_OBJECT) {
        return false;
      }
    } catch (IOException | RuntimeException unreadable) {
      return false;
    }
    for (int i = 0; i < fields.length; i++) {
      if (values[i] == null) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWith(byte[] value, int at, byte[] prefix) {
    if (value.length - at < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (value[at + i] != prefix[i]) {
        return false;
      }
    }
    return true;
  }
}
