// A server-sent events parser over a fetch body (WHATWG ReadableStream of bytes),
// following the HTML event-stream rules: `event:`, `data:` (joined by newlines), `id:`,
// `retry:`, comments starting with `:`, events dispatched on a blank line.

/**
 * @param {ReadableStream<Uint8Array>} body
 * @returns {AsyncGenerator<{event: string, data: string, id?: string, retry?: number}>}
 */
export async function* parseEventStream(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let event = '';
  let data = [];
  let id;
  let retry;
  let done = false;
  try {
    while (!done) {
      const chunk = await reader.read();
      done = chunk.done;
      buffer += done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      if (done && buffer && !/[\r\n]$/.test(buffer)) buffer += '\n';
      let match;
      while ((match = /\r\n|\r|\n/.exec(buffer)) !== null) {
        // A lone `\r` at the end of the buffer may be the first half of `\r\n`.
        if (match[0] === '\r' && match.index === buffer.length - 1 && !done) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === '') {
          if (data.length > 0) {
            const message = { event: event || 'message', data: data.join('\n') };
            if (id !== undefined) message.id = id;
            if (retry !== undefined) message.retry = retry;
            yield message;
          }
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
      }
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
