package io.airlinesanalytics.job;

/**
 * The grammar the fast path accepts, on raw bytes: JSON numbers, the UUID and RFC 3339
 * date-time formats (as {@code airlines.stream.schema.FORMAT_PATTERNS} states them; the
 * date-time in the producers' form only).
 */
final class Formats {
  private Formats() {}

  private static boolean digit(byte b) {
    return b >= '0' && b <= '9';
  }

  private static boolean hex(byte b) {
    return digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
  }

  /** Where the JSON integer at {@code at} ends ({@code -?(0|[1-9][0-9]*)}), or -1. */
  static int integerEnd(byte[] json, int at) {
    int i = at;
    if (i < json.length && json[i] == '-') {
      i++;
    }
    if (i >= json.length || !digit(json[i])) {
      return -1;
    }
    if (json[i] == '0') {
      i++;
    } else {
      while (i < json.length && digit(json[i])) {
        i++;
      }
    }
    return i;
  }

  /** Where the JSON number at {@code at} ends (integer, fraction, exponent), or -1. */
  static int numberEnd(byte[] json, int at) {
    int i = integerEnd(json, at);
    if (i < 0) {
      return -1;
    }
    if (i < json.length && json[i] == '.') {
      i++;
      if (i >= json.length || !digit(json[i])) {
        return -1;
      }
      while (i < json.length && digit(json[i])) {
        i++;
      }
    }
    if (i < json.length && (json[i] == 'e' || json[i] == 'E')) {
      i++;
      if (i < json.length && (json[i] == '+' || json[i] == '-')) {
        i++;
      }
      if (i >= json.length || !digit(json[i])) {
        return -1;
      }
      while (i < json.length && digit(json[i])) {
        i++;
      }
    }
    return i;
  }

  /** RFC 4122 text: 8-4-4-4-12 hexadecimal digits. */
  static boolean isUuid(byte[] s, int start, int end) {
    if (end - start != 36) {
      return false;
    }
    for (int i = 0; i < 36; i++) {
      byte b = s[start + i];
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (b != '-') {
          return false;
        }
      } else if (!hex(b)) {
        return false;
      }
    }
    return true;
  }

  /** What {@link #dateTimeMicros} returns for text it does not take. */
  static final long NOT_A_TIME = Long.MIN_VALUE;

  private static final long MICROS_PER_SECOND = 1_000_000L;
  private static final long SECONDS_PER_DAY = 86_400L;
  /** Largest offset a zone may have (java.time, and so Spark). */
  private static final int MAX_OFFSET_SECONDS = 18 * 3600;

  /**
   * The instant, in microseconds since the epoch, of an RFC 3339 date-time with an offset
   * in the form the producers write ({@code YYYY-MM-DDThh:mm:ss[.f{1,6}](Z|±hh:mm)}), of a
   * day that exists; else {@link #NOT_A_TIME}. The value is what Spark's cast of the same
   * text to a timestamp gives (the slow path's cast; a property test checks both agree);
   * lower-case separators, a space for the T, a leap second and the like are the slow
   * path's to judge.
   */
  static long dateTimeMicros(byte[] s, int start, int end) {
    int length = end - start;
    if (length < 20
        || !(digits(s, start, 4) && s[start + 4] == '-' && digits(s, start + 5, 2)
            && s[start + 7] == '-' && digits(s, start + 8, 2) && s[start + 10] == 'T'
            && digits(s, start + 11, 2) && s[start + 13] == ':' && digits(s, start + 14, 2)
            && s[start + 16] == ':' && digits(s, start + 17, 2))) {
      return NOT_A_TIME;
    }
    int year = number(s, start, 4);
    int month = number(s, start + 5, 2);
    int day = number(s, start + 8, 2);
    int hour = number(s, start + 11, 2);
    int minute = number(s, start + 14, 2);
    int second = number(s, start + 17, 2);
    if (month < 1 || month > 12 || day < 1
        || day > java.time.Month.of(month).length(java.time.Year.isLeap(year))
        || hour > 23 || minute > 59 || second > 59) {
      return NOT_A_TIME;
    }
    int i = start + 19;
    long micros = 0;
    if (s[i] == '.') {
      int fraction = ++i;
      while (i < end && digit(s[i]) && i - fraction < 6) {
        micros = micros * 10 + (s[i] - '0');
        i++;
      }
      int count = i - fraction;
      if (count < 1 || (i < end && digit(s[i]))) {
        return NOT_A_TIME;
      }
      for (int pad = count; pad < 6; pad++) {
        micros *= 10;
      }
    }
    int offset;
    if (i == end - 1 && s[i] == 'Z') {
      offset = 0;
    } else if (i == end - 6 && (s[i] == '+' || s[i] == '-') && digits(s, i + 1, 2)
        && s[i + 3] == ':' && digits(s, i + 4, 2)) {
      int hours = number(s, i + 1, 2);
      int minutes = number(s, i + 4, 2);
      if (minutes > 59) {
        return NOT_A_TIME;
      }
      offset = (s[i] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
      if (Math.abs(offset) > MAX_OFFSET_SECONDS) {
        return NOT_A_TIME;
      }
    } else {
      return NOT_A_TIME;
    }
    long days = java.time.LocalDate.of(year, month, day).toEpochDay();
    long seconds = days * SECONDS_PER_DAY + hour * 3600L + minute * 60L + second - offset;
    return seconds * MICROS_PER_SECOND + micros;
  }

  private static int number(byte[] s, int at, int count) {
    int value = 0;
    for (int i = at; i < at + count; i++) {
      value = value * 10 + (s[i] - '0');
    }
    return value;
  }

  private static boolean digits(byte[] s, int at, int count) {
    for (int i = at; i < at + count; i++) {
      if (!digit(s[i])) {
        return false;
      }
    }
    return true;
  }
}
