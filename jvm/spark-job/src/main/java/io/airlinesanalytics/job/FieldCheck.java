package io.airlinesanalytics.job;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.catalyst.util.DateTimeUtils;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * One contract field as the fast path reads and checks it: its JSON type and what its
 * JSON Schema states (format, pattern, lengths, enum, bounds). Built from the same field
 * list the Spark schema comes from ({@code airlines.stream.schema.event_fields}), so nothing
 * about the event is written down here. A date-time is returned as its instant (what
 * Spark's cast of the same text gives), the other strings as Spark strings.
 */
public final class FieldCheck implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The JSON types of the contract's fields. */
  public enum Kind {
    STRING,
    INTEGER,
    NUMBER
  }

  /** The JSON Schema formats the contract uses. */
  public enum Format {
    UUID,
    DATE_TIME
  }

  /** Longest integer read without overflow checks (18 digits fit a long). */
  private static final int MAX_INTEGER_DIGITS = 18;

  final String name;
  private final Kind kind;
  private final Format format;
  /** Java regex (as Spark's {@code rlike}: a match anywhere), or null. */
  private final Pattern pattern;
  private final Integer minLength;
  private final Integer maxLength;
  /** The enum's values as UTF-8, or null. */
  private final byte[][] allowed;
  private final Double minimum;
  private final Double exclusiveMinimum;
  private final Double maximum;
  private final Double exclusiveMaximum;
  /** Each thread's matcher of {@link #pattern} over a reusable view of the bytes. */
  private transient ThreadLocal<AsciiMatcher> matchers;

  public FieldCheck(
      String name,
      Kind kind,
      Format format,
      String pattern,
      Integer minLength,
      Integer maxLength,
      Set<String> allowed,
      Double minimum,
      Double exclusiveMinimum,
      Double maximum,
      Double exclusiveMaximum) {
    this.name = name;
    this.kind = kind;
    this.format = format;
    this.pattern = pattern == null ? null : Pattern.compile(pattern);
    this.minLength = minLength;
    this.maxLength = maxLength;
    this.allowed =
        allowed == null
            ? null
            : allowed.stream().map(v -> v.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
    this.minimum = minimum;
    this.exclusiveMinimum = exclusiveMinimum;
    this.maximum = maximum;
    this.exclusiveMaximum = exclusiveMaximum;
  }

  /**
   * Read this field's value at {@code at}; store it in {@code values[index]} and return
   * where it ends, or return -1 if it is not in the fast path's form or fails a check.
   */
  int read(byte[] json, int at, Object[] values, int index) {
    switch (kind) {
      case STRING:
        return readString(json, at, values, index);
      case INTEGER:
        return readInteger(json, at, values, index);
      case NUMBER:
        return readNumber(json, at, values, index);
      default:
        throw new IllegalStateException("unknown kind " + kind);
    }
  }

  private int readString(byte[] json, int at, Object[] values, int index) {
    if (at >= json.length || json[at] != '"') {
      return -1;
    }
    int start = at + 1;
    int end = start;
    boolean ascii = true;
    while (true) {
      if (end >= json.length) {
        return -1;
      }
      byte b = json[end];
      if (b == '"') {
        break;
      }
      if (b == '\\' || (b >= 0 && b < 0x20)) {
        return -1; // escapes and control characters: the slow path decodes them
      }
      ascii &= b >= 0;
      end++;
    }
    int length = end - start;
    if (!ascii) {
      length = Utf8.codePoints(json, start, end);
      if (length < 0) {
        return -1;
      }
    }
    if (minLength != null && length < minLength || maxLength != null && length > maxLength) {
      return -1;
    }
    if (format == Format.UUID && !(ascii && Formats.isUuid(json, start, end))) {
      return -1;
    }
    if (allowed != null && !isAllowed(json, start, end)) {
      return -1;
    }
    if (pattern != null && !matches(json, start, end, ascii)) {
      return -1;
    }
    if (format == Format.DATE_TIME) {
      long micros = ascii ? Formats.dateTimeMicros(json, start, end) : Formats.NOT_A_TIME;
      if (micros == Formats.NOT_A_TIME) {
        return -1;
      }
      values[index] = Instant.ofEpochSecond(
          Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L);
      return end + 1;
    }
    values[index] = UTF8String.fromBytes(json, start, end - start);
    return end + 1;
  }

  private int readInteger(byte[] json, int at, Object[] values, int index) {
    int end = Formats.integerEnd(json, at);
    if (end < 0 || end - at > MAX_INTEGER_DIGITS) {
      return -1;
    }
    boolean negative = json[at] == '-';
    long value = 0;
    for (int i = negative ? at + 1 : at; i < end; i++) {
      value = value * 10 + (json[i] - '0');
    }
    if (negative) {
      value = -value;
    }
    if (!inBounds(value)) {
      return -1;
    }
    values[index] = value;
    return end;
  }

  private int readNumber(byte[] json, int at, Object[] values, int index) {
    int end = Formats.numberEnd(json, at);
    if (end < 0) {
      return -1;
    }
    double value = Double.parseDouble(new String(json, at, end - at, StandardCharsets.ISO_8859_1));
    if (!inBounds(value)) {
      return -1;
    }
    values[index] = value;
    return end;
  }

  private boolean isAllowed(byte[] json, int start, int end) {
    int length = end - start;
    for (byte[] value : allowed) {
      if (value.length == length && regionEquals(json, start, value)) {
        return true;
      }
    }
    return false;
  }

  private static boolean regionEquals(byte[] json, int start, byte[] value) {
    for (int i = 0; i < value.length; i++) {
      if (json[start + i] != value[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * The value at {@code token} as Spark's {@code from_json} reads it into this field's
   * type (a date-time: the text, then Spark's cast), or null if it would not; no check.
   */
  Object readToken(JsonParser parser, JsonToken token, ZoneId zone) throws IOException {
    switch (kind) {
      case STRING:
        if (token != JsonToken.VALUE_STRING) {
          return null;
        }
        UTF8String text = UTF8String.fromString(parser.getText());
        if (format != Format.DATE_TIME) {
          return text;
        }
        scala.Option<Object> micros = DateTimeUtils.stringToTimestamp(text, zone);
        return micros.isDefined() ? DateTimeUtils.microsToInstant((Long) micros.get()) : null;
      case INTEGER:
        if (token != JsonToken.VALUE_NUMBER_INT) {
          return null;
        }
        JsonParser.NumberType type = parser.getNumberType();
        return type == JsonParser.NumberType.INT || type == JsonParser.NumberType.LONG
            ? parser.getLongValue()
            : null;
      case NUMBER:
        return token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT
            ? parser.getDoubleValue()
            : null;
      default:
        throw new IllegalStateException("unknown kind " + kind);
    }
  }

  private boolean matches(byte[] json, int start, int end, boolean ascii) {
    if (!ascii) {
      String text = new String(json, start, end - start, StandardCharsets.UTF_8);
      return pattern.matcher(text).find();
    }
    ThreadLocal<AsciiMatcher> local = matchers;
    if (local == null) {
      local = ThreadLocal.withInitial(() -> new AsciiMatcher(pattern));
      matchers = local;
    }
    return local.get().find(json, start, end);
  }

  /** NaN fails every bound, as in the slow path ({@code NOT (v <= max)}). */
  private boolean inBounds(double value) {
    return (minimum == null || value >= minimum)
        && (exclusiveMinimum == null || value > exclusiveMinimum)
        && (maximum == null || value <= maximum)
        && (exclusiveMaximum == null || value < exclusiveMaximum);
  }

  @Override
  public String toString() {
    return "FieldCheck(" + name + ", " + kind + ", format " + format + ", pattern " + pattern
        + ", length " + minLength + ".." + maxLength + ", enum of " + (allowed == null ? 0 : allowed.length) + ", bounds "
        + Arrays.asList(minimum, exclusiveMinimum, maximum, exclusiveMaximum) + ")";
  }
}

/** A regex matcher over ASCII bytes, without making a string of them. */
final class AsciiMatcher implements CharSequence {
  private final Matcher matcher;
  private byte[] bytes = new byte[0];
  private int start;
  private int length;

  AsciiMatcher(Pattern pattern) {
    this.matcher = pattern.matcher("");
  }

  /** As Spark's {@code rlike}: a match anywhere in {@code bytes[start, end)}. */
  boolean find(byte[] bytes, int start, int end) {
    this.bytes = bytes;
    this.start = start;
    this.length = end - start;
    return matcher.reset(this).find();
  }

  @Override
  public int length() {
    return length;
  }

  @Override
  public char charAt(int index) {
    if (index < 0 || index >= length) {
      throw new IndexOutOfBoundsException(index);
    }
    return (char) bytes[start + index];
  }

  @Override
  public CharSequence subSequence(int from, int to) {
    return new String(bytes, start + from, to - from, StandardCharsets.ISO_8859_1);
  }

  @Override
  public String toString() {
    return new String(bytes, start, length, StandardCharsets.ISO_8859_1);
  }
}
