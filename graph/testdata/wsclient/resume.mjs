// resume.mjs: a real graphql-ws (graphql-transport-ws protocol) client for
// alephql's subscription test. It submits messages through the
// submitMessage mutation, receives them live, disconnects, lets more
// messages be submitted while away, resumes from the last cursor and prints
// every event it saw, in order, as one JSON document on stdout.
//
// Environment: HTTP_URL (the /graphql endpoint), WS_URL (same, ws://),
// TOTAL (messages to submit), BEFORE (how many to receive before leaving),
// AWAY (how many are submitted while disconnected).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const { HTTP_URL, WS_URL } = process.env;
const TOTAL = Number(process.env.TOTAL);
const BEFORE = Number(process.env.BEFORE);
const AWAY = Number(process.env.AWAY);

const SUB = `subscription($after: Cursor) {
  messages(filter: { channels: ["LIVE"] }, after: $after) { __typename cursor seq hash }
}`;

let submitted = 0;
const log = (...a) => { if (process.env.DEBUG) console.error(...a); };
async function submit() {
  const i = submitted++;
  const message = { item_hash: `msg-${String(i).padStart(4, '0')}`, channel: 'LIVE' };
  const res = await fetch(HTTP_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($m: JSON!) { submitMessage(message: $m) { hash status } }',
      variables: { m: message },
    }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  // Noise on another channel: the filter must keep it out, live and replayed.
  await fetch(HTTP_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($m: JSON!) { submitMessage(message: $m) { hash } }',
      variables: { m: { item_hash: `noise-${i}`, channel: 'OTHER' } },
    }),
  });
}

// session subscribes after `after`, submits one message per event received
// (the first right away) until it has `want` events, then disconnects.
function session(after, want, submitMore) {
  return new Promise((resolve, reject) => {
    const client = createClient({ url: WS_URL, webSocketImpl: WebSocket, retryAttempts: 0,
      on: { connected: () => log('connected'), closed: (e) => log('closed', e?.code, e?.reason), error: (e) => log('error', String(e)) } });
    const got = [];
    const dispose = client.subscribe(
      { query: SUB, variables: { after } },
      {
        next: async ({ data, errors }) => {
          if (errors) return reject(new Error(JSON.stringify(errors)));
          log('event', JSON.stringify(data.messages));
          got.push(data.messages);
          if (got.length >= want) {
            dispose();
            await client.dispose();
            return resolve(got);
          }
          if (submitMore && submitted < TOTAL) await submit().catch(reject);
        },
        error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
        complete: () => resolve(got),
      },
    );
    if (submitMore) submit().catch(reject);
  });
}

const first = await session('0', BEFORE, true);
for (let i = 0; i < AWAY; i++) await submit();
const last = first[first.length - 1].cursor;
const second = await session(last, TOTAL - BEFORE, true);
process.stdout.write(JSON.stringify({ first, second }) + '\n');
