/**
 * Error text users see (a subscription's `lastError`, dead-letter and forwarding failures)
 * is a plain sentence: never a stack, a runtime message such as "Maximum call stack size
 * exceeded", an internal reference ("internal error; reference = …") or a credential.
 *
 * Where something was thrown, the caller shows a fixed sentence of its own and logs the
 * detail (`logThrown`, credentials redacted as in every log line: `redactCredentials`);
 * `plainSentence` is the last guard on any text about to be stored for users, replacing
 * whatever does not look like one of our own sentences.
 *
 * ```ts
 * } catch (err) {
 *   logThrown("subscription 'hook': the target queue call", err);
 *   return { code: "INTERNAL", message: "the target queue did not answer; forwarding will be retried" };
 * }
 * ```
 */

/** Longest text shown as is; anything longer is not a sentence of ours. */
const MAX_SENTENCE_CHARS = 400;

/** Marks of text that must not reach users. */
const NOT_PLAIN: readonly RegExp[] = [
  /[\r\n]/, // stacks and other multi-line dumps
  /\bat \S+ \(|\bat [\w./-]+:\d+:\d+/, // stack frames
  /internal error;\s*reference/i, // the runtime's opaque references
  /maximum call stack/i,
  /\b(?:TypeError|RangeError|SyntaxError|ReferenceError|EvalError|URIError|DOMException)\b/,
  /\beyJ[\w-]*\.[\w-]+/, // a JWT
  /\bbearer\s+\S/i,
  /[?&](?:token|key|secret|signature|password)=/i,
];

/** `text` when it reads as a plain sentence, else `fallback` (which must be one). */
export function plainSentence(text: string, fallback: string): string {
  const plain = text.length > 0 && text.length <= MAX_SENTENCE_CHARS && !NOT_PLAIN.some((re) => re.test(text));
  return plain ? text : fallback;
}

const REDACTIONS: ReadonlyArray<[RegExp, string]> = [
  [/([?&]token=)[^&#\s"'<>]*/gi, "$1[redacted]"],
  [/(bearer\s+)\S+/gi, "$1[redacted]"],
  [/(authorization["']?\s*[:=]\s*["']?)[^"',}\s][^"',}]*/gi, "$1[redacted]"],
  // Anything shaped like a JWT, wherever it appears.
  [/\beyJ[\w-]*\.[\w-]+\.[\w-]*/g, "[redacted]"],
];

/** `text` with credentials (query tokens, bearer values, JWTs) replaced, for logs. */
export function redactCredentials(text: string): string {
  let out = text;
  for (const [pattern, replacement] of REDACTIONS) out = out.replace(pattern, replacement);
  return out;
}

/** What a log line may say about a thrown value: its name, message and stack, redacted. */
export function describeForLog(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return redactCredentials(text);
}

/**
 * Logs what was thrown where users get a plain sentence instead: one line saying where,
 * then the error, credentials redacted (its message and stack stay in the server's log,
 * never in an answer).
 */
export function logThrown(where: string, err: unknown): void {
  console.warn(`${where} failed: ${describeForLog(err)}`);
}
