package io.airlinesanalytics.job;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Strict UTF-8 (no overlong forms, no surrogates), by the JDK's own decoder. */
final class Utf8 {
  private Utf8() {}

  /** The code points of {@code bytes[start, end)}, or -1 if they are not valid UTF-8. */
  static int codePoints(byte[] bytes, int start, int end) {
    try {
      CharBuffer chars =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes, start, end - start));
      return Character.codePointCount(chars, 0, chars.length());
    } catch (CharacterCodingException e) {
      return -1;
    }
  }
}
