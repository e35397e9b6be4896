// The store's worker: one tab at a time holds the store (a Web Lock), opens it on
// the origin-private file system with its sync beside it, and answers the page's
// requests in order.
import init, { StoreWorker } from './pkg/aftercall_web.js';

const queue = [];
let store = null;

self.onmessage = (event) => {
  queue.push(event.data);
  if (store) drain();
};

function drain() {
  while (queue.length > 0) {
    const message = queue.shift();
    switch (message.kind) {
      case 'ask': {
        const answer = store.answer(message.request);
        const reply = answer.reply;
        const wrote = answer.wrote;
        const name = answer.name;
        answer.free();
        self.postMessage({ kind: 'reply', id: message.id, reply, wrote, name }, [reply.buffer]);
        break;
      }
      case 'account':
        store.account(message.ask).then((reply) => {
          self.postMessage({ kind: 'account', id: message.id, reply }, [reply.buffer]);
        });
        break;
      case 'online':
        store.online();
        break;
      default:
        console.warn('the store was sent a message it does not know:', message);
    }
  }
}

async function open() {
  await init();
  store = await StoreWorker.open((news) => self.postMessage({ kind: 'sync', news }, [news.buffer]));
  self.postMessage({ kind: 'opened' });
  drain();
}

// A tab being reloaded lets go of the lock as it unloads: a held lock is asked
// again a few times before this tab says another one has it.
async function hold(triesLeft) {
  const held = await navigator.locks.request('aftercall-store', { ifAvailable: true }, async (lock) => {
    if (!lock) return false;
    try {
      await open();
    } catch (e) {
      self.postMessage({ kind: 'failed', message: String(e && e.message ? e.message : e) });
      return true;
    }
    // Held for as long as this worker lives.
    await new Promise(() => {});
    return true;
  });
  if (held) return;
  if (triesLeft > 0) {
    await new Promise((r) => setTimeout(r, 400));
    return hold(triesLeft - 1);
  }
  self.postMessage({ kind: 'failed', inUse: true, message: 'Use that one, or close it and reload this page.' });
}

hold(5);
