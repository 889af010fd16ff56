// Randomness that differs between the clones of one snapshot.
//
// Everything a generator holds in user space when the snapshot is taken is the same in every
// clone: V8's Math.random state, and OpenSSL's DRBGs behind `crypto` (with the UUIDs and
// integers crypto.randomUUID and crypto.randomInt keep ready). The agent's Refresh reseeds
// only the kernel's RNG. So, before the handler loads, install() wraps crypto's random
// functions; once afterRestore() has run they take their bytes from the kernel
// (/dev/urandom) rather than from the cloned state, and Math.random is reseeded from it.
//
// Not covered: randomness OpenSSL uses internally (TLS handshakes, generateKeyPair, ECDH and
// WebCrypto keys) follows OpenSSL's own reseed schedule (the README's "ember-agent and the
// host client").
'use strict';

const crypto = require('crypto');
const fs = require('fs');

let restored = false;
let urandom = -1;

// Fills bytes (a Uint8Array) from the kernel's RNG.
function fillFromKernel(bytes) {
  if (urandom < 0) urandom = fs.openSync('/dev/urandom', 'r');
  for (let done = 0; done < bytes.length;) {
    done += fs.readSync(urandom, bytes, done, bytes.length - done, null);
  }
  return bytes;
}

// The bytes of buf (an ArrayBuffer or a view) that crypto.randomFill(buf, offset, size)
// writes: offset and size count buf's elements, as Node counts them.
function filledBytes(buf, offset, size) {
  const bytes = ArrayBuffer.isView(buf)
    ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
    : new Uint8Array(buf);
  const element = buf.BYTES_PER_ELEMENT || 1;
  const start = (offset || 0) * element;
  const length = size === undefined ? bytes.length - start : size * element;
  return bytes.subarray(start, start + length);
}

function kernelUuid() {
  const b = fillFromKernel(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 9562 variant
  const hex = Buffer.from(b).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-` +
         hex.slice(20);
}

// A uniform integer in [min, max), by rejection from 48-bit draws (max - min < 2^48, which
// crypto.randomInt has already checked).
function kernelInt(min, max) {
  const range = max - min;
  const limit = 2 ** 48 - (2 ** 48 % range);
  for (;;) {
    const x = fillFromKernel(Buffer.alloc(6)).readUIntBE(0, 6);
    if (x < limit) return min + (x % range);
  }
}

// Replaces object[name] with wrap(original), the wrapper deciding on each call.
function wrap(object, name, wrapper) {
  const original = object[name];
  if (typeof original !== 'function') return;
  Object.defineProperty(object, name, { value: wrapper(original), writable: true,
                                        configurable: true, enumerable: true });
}

function install() {
  wrap(crypto, 'randomBytes', (original) => function randomBytes(size, callback) {
    if (!restored) return original.apply(this, arguments);
    if (typeof callback !== 'function') return fillFromKernel(original(size));
    return original(size, (error, buf) => callback(error, error ? buf : fillFromKernel(buf)));
  });
  wrap(crypto, 'randomFillSync', (original) => function randomFillSync(buf, offset, size) {
    const result = original.apply(this, arguments);  // Node's own checks of the arguments
    if (restored) fillFromKernel(filledBytes(buf, offset, size));
    return result;
  });
  wrap(crypto, 'randomFill', (original) => function randomFill(buf, ...rest) {
    if (!restored) return original.apply(this, arguments);
    const callback = rest.pop();
    const [offset, size] = rest;
    return original(buf, ...rest, (error, filled) => {
      if (!error) fillFromKernel(filledBytes(buf, offset, size));
      callback(error, filled);
    });
  });
  wrap(crypto, 'randomUUID', (original) => function randomUUID(options) {
    const uuid = original.apply(this, arguments);  // Node's own checks of the options
    return restored ? kernelUuid() : uuid;
  });
  wrap(crypto, 'randomInt', (original) => function randomInt(...args) {
    if (!restored) return original.apply(this, args);
    const callback = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    original(...args);  // Node's own checks of min and max
    const [min, max] = args.length === 1 ? [0, args[0]] : args;
    const value = kernelInt(min, max);
    if (callback) return process.nextTick(callback, null, value);
    return value;
  });
  const getRandomValues = (original) => function getRandomValues(array) {
    const result = original.call(crypto.webcrypto, array);
    if (restored) fillFromKernel(filledBytes(array));
    return result;
  };
  // crypto.getRandomValues cannot be replaced, and calls webcrypto's.
  if (crypto.webcrypto) {
    wrap(crypto.webcrypto, 'getRandomValues', getRandomValues);
    wrap(crypto.webcrypto, 'randomUUID', (original) => function randomUUID() {
      const uuid = original.call(crypto.webcrypto);
      return restored ? kernelUuid() : uuid;
    });
  }
  // ES modules' `import { randomBytes } from 'crypto'` sees the wrappers too.
  require('module').syncBuiltinESMExports();
}

// V8 cannot be reseeded: Math.random becomes xoshiro128** seeded from the kernel.
function reseedMathRandom() {
  const s = new Uint32Array(4);
  fillFromKernel(new Uint8Array(s.buffer));
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  const rotl = (x, k) => (x << k) | (x >>> (32 - k));
  const next32 = () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  // 53 random bits, as V8's own: 27 from one draw and 26 from the next.
  Math.random = () => ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992;
}

// Called before the first invocation after each restore.
function afterRestore() {
  restored = true;
  reseedMathRandom();
}

module.exports = { install, afterRestore };
