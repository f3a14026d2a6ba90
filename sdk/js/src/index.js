// @cloudbox/sdk: the JavaScript client of CloudBox. ES module, no dependencies; runs in
// Node 20+ and in browsers (fetch, WHATWG streams, WebCrypto).
import { CloudBox } from './client.js';

export { CloudBox } from './client.js';
export { CloudBoxError } from './errors.js';
export { camelKeys, snakeKeys } from './case.js';
export { parseEventStream } from './sse.js';
export default CloudBox;
