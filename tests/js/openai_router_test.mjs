// Drives `tokenfab router` with the official OpenAI Node client: a real
// etcd, two `tokenfab serve` workers and the router, as processes. Models,
// chat and completions (streaming and not), usage counted once, an API key
// on the router, and a stream that goes on when its worker is killed.
// Usage: node openai_router_test.mjs TOKENFAB_BIN MODEL.gguf
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

const [tokenfab, model] = process.argv.slice(2);
if (!tokenfab || !model) {
  console.error('usage: node openai_router_test.mjs TOKENFAB_BIN MODEL.gguf');
  process.exit(2);
}
const apiKey = 'router-key-123';
const children = [];
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tf-router-etcd-'));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(args, name) {
  const child = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.log = '';
  child.stdout.on('data', (d) => { child.log += d.toString(); });
  child.stderr.on('data', (d) => { child.log += d.toString(); });
  child.name = name;
  children.push(child);
  return child;
}

async function until(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}:\n` + children.map((c) => `--- ${c.name}\n${c.log}`).join('\n'));
}

async function metric(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: `Bearer ${apiKey}` } })).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

async function run() {
  const etcdPort = await freePort();
  const peerPort = await freePort();
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  start(['etcd', '--data-dir', dataDir, '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
    '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
    '--initial-cluster', `default=http://127.0.0.1:${peerPort}`], 'etcd');
  await until('etcd', async () => (await fetch(`${etcdUrl}/v3/kv/range`, { method: 'POST', body: '{"key":"AA=="}' })).ok);
  const workers = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    workers.push({ port, child: start([tokenfab, '-t', '1', 'serve', '-m', model, '--port', String(port), '--ctx-size', '1024',
      '--served-model-name', 'tiny', '--etcd', etcdUrl, '--lease-ttl', '2'], `worker${i}`) });
  }
  const routerPort = await freePort();
  start([tokenfab, 'router', '-m', model, '--served-model-name', 'tiny', '--etcd', etcdUrl, '--port', String(routerPort),
    '--api-key', apiKey, '--router-mode', 'least-loaded'], 'router');
  await until('two routed workers', async () => (await metric(routerPort, 'tokenfab_router_workers')) === 2);

  const client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${routerPort}/v1`, maxRetries: 0 });
  const models = await client.models.list();
  assert.equal(models.data[0].id, 'tiny');

  const chat = await client.chat.completions.create({
    model: 'tiny', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 12, temperature: 0,
  });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + chat.usage.completion_tokens);
  // The router builds the prompt exactly as a worker's own server does.
  const direct = await new OpenAI({ apiKey: 'x', baseURL: `http://127.0.0.1:${workers[0].port}/v1`, maxRetries: 0 })
    .chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 12, temperature: 0 });
  assert.equal(chat.choices[0].message.content, direct.choices[0].message.content);
  assert.equal(chat.usage.prompt_tokens, direct.usage.prompt_tokens);

  // A long stream, reference first, then the same with its worker killed.
  const streamOnce = async (onChunk) => {
    const stream = await client.completions.create({
      model: 'tiny', prompt: 'Once upon a time', max_tokens: 800, temperature: 0, stream: true,
      stream_options: { include_usage: true }, ignore_eos: true,
    });
    let text = '';
    let usage = null;
    let n = 0;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.text) {
          text += c.text;
          n += 1;
          await onChunk(n);
        }
      }
    }
    return { text, usage };
  };
  const reference = await streamOnce(async () => {});
  assert.equal(reference.usage.completion_tokens, 800);
  let killed = null;
  const moved = await streamOnce(async (n) => {
    if (n !== 50 || killed) return;
    for (const w of workers) {
      if ((await metric(w.port, 'tokenfab_requests_running')) > 0) {
        killed = w;
        w.child.kill('SIGKILL');
        break;
      }
    }
  });
  assert.ok(killed, 'a worker was streaming at chunk 50');
  assert.equal(moved.text, reference.text, 'the stream goes on with the same text');
  assert.equal(moved.usage.completion_tokens, 800, 'usage counts the request once');
  assert.ok((await metric(routerPort, 'tokenfab_router_migrations_total')) >= 1);

  // Without the API key the router refuses, in OpenAI's shape.
  await assert.rejects(
    new OpenAI({ apiKey: 'wrong', baseURL: `http://127.0.0.1:${routerPort}/v1`, maxRetries: 0 }).models.list(),
    (e) => e.status === 401);
  console.log('openai router client test: ok');
}

try {
  await run();
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
