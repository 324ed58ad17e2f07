// The demo driver: the real extension in Chromium, talked to the way a rep's pages talk to it.
import { launchWithExtension, ping, stopServiceWorker } from '../tests/e2e/lib/browser.mjs';

const headless = !process.env.DISPLAY || process.argv.includes('--headless');
const browser = await launchWithExtension({ headless });
try {
  const first = await ping(browser.context);
  console.log('Calltrail service worker answered from the wasm core:');
  console.log(JSON.stringify(first.pong, null, 2));
  console.log(`worker instance ${first.instance}, boot #${first.boot.boots}, wasm ready ${first.timing.wasmReadyMs?.toFixed(1)} ms after the worker started`);
  await stopServiceWorker(browser.context);
  const second = await ping(browser.context);
  console.log(`after stopping the worker: instance ${second.instance}, boot #${second.boot.boots} (kept in IndexedDB), wasm ready ${second.timing.wasmReadyMs?.toFixed(1)} ms`);
} finally {
  await browser.close();
}
