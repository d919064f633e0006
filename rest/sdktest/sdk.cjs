// sdk.cjs drives the official Aleph TypeScript SDK, unchanged, against a
// running alephql node. Run by cmd/alephql's TestOfficialSDK, which
// checks every result printed here against the node's state.
//
// Environment: NODE_URL (the node's base URL), PRIVATE_KEY (hex, an ETH
// key), REJECTED_HASH (a message the node rejected).
"use strict";
const core = require("@aleph-sdk/core");
const { AlephHttpClient, AuthenticatedAlephHttpClient } = require("@aleph-sdk/client");
const { ETHAccount } = require("@aleph-sdk/ethereum");
const { ethers } = require("ethers");

const url = process.env.NODE_URL.replace(/\/$/, "");
// getMessageError and watchMessages read the official server's address
// from the core module rather than the client's: point it at the node.
core.DEFAULT_API_V2 = url;
core.DEFAULT_API_WS_V2 = url.replace(/^http/, "ws");

async function status(hash) {
  const res = await fetch(`${url}/api/v0/messages/${hash}/status`);
  return res.ok ? (await res.json()).status : `http ${res.status}`;
}

async function until(hash, want) {
  for (let i = 0; i < 200; i++) {
    if ((await status(hash)) === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${hash} never became ${want}: ${await status(hash)}`);
}

async function main() {
  // A local provider: the account never calls a public RPC.
  const provider = new ethers.providers.JsonRpcProvider("http://127.0.0.1:9", { name: "local", chainId: 1337 });
  const wallet = new ethers.Wallet(process.env.PRIVATE_KEY, provider);
  const account = new ETHAccount(wallet, wallet.address, wallet.publicKey);
  const client = new AuthenticatedAlephHttpClient(account, url);
  const reader = new AlephHttpClient(url);
  const out = { address: account.address };

  // watchMessages: the live feed of the channel, from now on.
  const watcher = await reader.watchMessages({ channels: ["SDKTEST"] });
  for (let i = 0; i < 200 && !watcher.getIsOpen(); i++) await new Promise((r) => setTimeout(r, 25));

  const syncPost = await client.createPost({ postType: "note", content: { body: "sdk sync" }, channel: "SDKTEST", sync: true });
  out.syncPost = syncPost.item_hash;
  out.syncPostStatus = await status(syncPost.item_hash);
  const asyncPost = await client.createPost({ postType: "note", content: { body: "sdk async" }, channel: "SDKTEST" });
  out.asyncPost = asyncPost.item_hash;
  const syncAgg = await client.createAggregate({ key: "profile", content: { name: "sdk" }, channel: "SDKTEST", sync: true });
  out.syncAgg = syncAgg.item_hash;
  out.syncAggStatus = await status(syncAgg.item_hash);
  const asyncAgg = await client.createAggregate({ key: "settings", content: { theme: "dark" }, channel: "SDKTEST" });
  out.asyncAgg = asyncAgg.item_hash;
  await until(asyncPost.item_hash, "processed");
  await until(asyncAgg.item_hash, "processed");
  for (let i = 0; i < 200 && watcher.getData().length < 4; i++) await new Promise((r) => setTimeout(r, 25));
  out.watched = watcher.getData().map((m) => m.item_hash);
  watcher.closeSocket();

  const page1 = await reader.getMessages({ addresses: [account.address], pagination: 2, page: 1 });
  const page2 = await reader.getMessages({ addresses: [account.address], pagination: 2, page: 2 });
  out.page1 = page1.messages.map((m) => m.item_hash);
  out.page2 = page2.messages.map((m) => m.item_hash);
  out.pageTotal = page1.pagination_total;
  const posts = await reader.getMessages({ channels: ["SDKTEST"], messageTypes: ["POST"], startDate: new Date(Date.now() - 3600e3) });
  out.channelPosts = posts.messages.map((m) => m.item_hash);

  const got = await reader.getMessage(syncPost.item_hash);
  out.gotMessage = { item_hash: got.item_hash, type: got.type, sender: got.sender, content: got.content.content };
  out.messageError = await reader.getMessageError(syncPost.item_hash);
  out.rejectedError = await reader.getMessageError(process.env.REJECTED_HASH);

  const postList = await reader.getPosts({ addresses: [account.address], types: ["note"] });
  out.posts = postList.posts.map((p) => ({ item_hash: p.item_hash, content: p.content }));
  out.aggregate = await reader.fetchAggregate(account.address, "profile");
  out.aggregates = await reader.fetchAggregates(account.address);

  const forget = await client.forget({ hashes: [asyncPost.item_hash], channel: "SDKTEST", sync: true });
  out.forget = forget.item_hash;
  out.forgottenStatus = await status(asyncPost.item_hash);

  const file = Buffer.from("stored through the official SDK\n");
  // A Blob: Node's FormData sends a Buffer as a text field, not a file.
  const store = await client.createStore({ fileObject: new Blob([file]), channel: "SDKTEST", storageEngine: "storage", sync: true });
  out.store = store.item_hash;
  out.storeFile = store.content.item_hash;
  await until(store.item_hash, "processed");
  const downloaded = Buffer.from(await reader.downloadFile(store.content.item_hash));
  out.downloaded = downloaded.equals(file);

  // The SDK logs to stdout too: the result is the line after RESULT.
  process.stdout.write("\nRESULT\n" + JSON.stringify(out) + "\n");
}

main().catch((e) => {
  const res = (e && (e.response || (e.cause && e.cause.response))) || null;
  console.error(res ? `${e.message}: ${res.status} ${JSON.stringify(res.data)}` : e);
  process.exit(1);
});
