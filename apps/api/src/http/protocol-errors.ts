import { STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problem, PROBLEM_CONTENT_TYPE } from '@broker/shared/errors/problem';
import type { ApiErrorCode } from '@broker/shared/errors/codes';

/** What Node's HTTP parser refuses before Express sees the request, by llhttp/Node error code. */
const PARSER_ERRORS: Record<string, { code: ApiErrorCode; detail: string }> = {
  HPE_HEADER_OVERFLOW: { code: 'HEADERS_TOO_LARGE', detail: 'The request headers are larger than the server accepts (16 KiB in all).' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { code: 'PAYLOAD_TOO_LARGE', detail: 'The chunk extensions are too large.' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'REQUEST_TIMEOUT', detail: 'The request was not received in time.' },
};

const MALFORMED = { code: 'BAD_REQUEST' as ApiErrorCode, detail: 'The request is not valid HTTP/1.1.' };

/**
 * Makes the answers Node's HTTP server gives on its own problem+json too, so
 * that every error a client can meet has a `code` (docs/api.md#api-error-codes):
 * - a request the parser refuses (malformed request line or header, repeated
 *   or conflicting Content-Length, headers over 16 KiB, a slow request) gets a
 *   problem body instead of Node's bare status line, and bytes that follow a
 *   pipelined request do not replace that request's answer;
 * - an `Expect` other than `100-continue` is served like any request instead
 *   of Node's bare 417 (RFC 9110 §10.1.1 lets a server ignore it);
 * - CONNECT gets a 405 instead of a silently dropped connection.
 * Node's own checks stay in force; only the answers change. (Node still
 * answers an HTTP/1.1 request without `Host` with a bare 400 before any
 * listener runs.)
 */
export function answerProtocolErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // The client is gone: nothing to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Garbage after a pipelined request whose answer is still being made (Node's own handler would
    // write its 400 ahead of that answer, so a request that ran would read as refused): let the
    // answer go out, then close. Nothing after the bad bytes is read either way.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (inFlight && !inFlight.writableFinished) {
      inFlight.once('finish', () => socket.end());
      inFlight.once('close', () => socket.destroy());
      return;
    }
    const known = (err.code && PARSER_ERRORS[err.code]) || MALFORMED;
    const answer = problem(known.code, known.detail);
    const body = JSON.stringify(answer);
    // An answer to HEAD carries no body (RFC 9110 §9.3.2); the request line is in the bytes the parser saw.
    const head = (err as NodeJS.ErrnoException & { rawPacket?: Buffer }).rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
    socket.end(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Error'}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
    );
  });
  server.on('checkExpectation', (req, res) => {
    server.emit('request', req, res);
  });
  // CONNECT never reaches Express; without a listener Node drops the socket without a word.
  server.on('connect', (_req, socket: Duplex) => {
    const answer = problem('METHOD_NOT_ALLOWED', 'CONNECT is not supported: this is not a proxy.');
    const body = JSON.stringify(answer);
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
