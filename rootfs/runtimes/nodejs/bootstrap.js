// Ember's nodejs18.x runtime: loads the function's handler, then serves invocations from the
// Lambda Runtime API at AWS_LAMBDA_RUNTIME_API until the agent goes away.
//
// Node.js 18 built-in modules only, CommonJS. Started by ember-agent as
// `/usr/bin/node /opt/ember/runtimes/nodejs/bootstrap.js` with cwd LAMBDA_TASK_ROOT.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const restoreRandom = require('./restore_random');

const API_PREFIX = '/2018-06-01/runtime';

// ---- the Runtime API client: one keep-alive connection ----

const address = process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001';
const apiHost = address.slice(0, address.lastIndexOf(':'));
const apiPort = Number(address.slice(address.lastIndexOf(':') + 1));
const apiAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function apiRequest(method, urlPath, body, headers = {}) {
  const options = { host: apiHost, port: apiPort, method, path: API_PREFIX + urlPath,
                    agent: apiAgent, headers: { ...headers } };
  if (body !== undefined) options.headers['Content-Length'] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function nextInvocation() {
  const res = await apiRequest('GET', '/invocation/next');
  if (res.status !== 200) {
    throw new Error(`invocation/next answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
  }
  return res;
}

function postError(urlPath, document) {
  return apiRequest('POST', urlPath, JSON.stringify(document), {
    'Content-Type': 'application/json',
    'Lambda-Runtime-Function-Error-Type': document.errorType,
  });
}

// ---- errors and logs in Lambda's formats ----

// An error of the runtime itself, with Lambda's error type as its name.
function fault(errorType, message, stack) {
  const error = new Error(message);
  error.name = errorType;
  error.stack = stack || `${errorType}: ${message}`;
  return error;
}

// Lambda's error JSON for anything thrown or passed to a callback.
function errorDocument(error) {
  if (error instanceof Error) {
    const stack = typeof error.stack === 'string' ? error.stack.split('\n') : [];
    return { errorType: error.name, errorMessage: error.message, trace: stack };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

let currentRequestId;

// console.* as in Lambda: "<ISO time>\t<request id>\t<LEVEL>\t<message>" lines on stdout.
function patchConsole() {
  const write = (level) => (...args) => {
    const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}\n`;
    process.stdout.write(line);
  };
  console.log = write('INFO');
  console.info = write('INFO');
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.debug = write('DEBUG');
  console.trace = (...args) => {
    const trace = new Error(util.format(...args));
    trace.name = 'Trace';
    write('TRACE')(trace.stack);
  };
}

// ---- loading the handler ----

async function requireOrImport(file) {
  try {
    return require(file);
  } catch (error) {
    if (error.code !== 'ERR_REQUIRE_ESM') throw error;
    return import(pathToFileURL(file).href);  // a .js file in an ES module package
  }
}

async function loadModule(base, moduleName) {
  try {
    if (fs.existsSync(base + '.mjs')) return await import(pathToFileURL(base + '.mjs').href);
    for (const extension of ['.js', '.cjs']) {
      if (fs.existsSync(base + extension)) return await requireOrImport(base + extension);
    }
    if (!fs.existsSync(base)) {
      throw fault('Runtime.ImportModuleError', `Error: Cannot find module '${moduleName}'`);
    }
    return require(base);  // a folder with index.js or a package.json "main"
  } catch (error) {
    if (error.name === 'Runtime.ImportModuleError') throw error;
    if (error instanceof SyntaxError) {
      throw fault('Runtime.UserCodeSyntaxError', `${error.name}: ${error.message}`, error.stack);
    }
    if (error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND') {
      throw fault('Runtime.ImportModuleError', `Error: ${error.message}`, error.stack);
    }
    throw error;  // thrown by the module's own top-level code
  }
}

// "dir/file.handler" or "file.nested.handler", resolved against the task root.
async function loadHandler(taskRoot, handlerString) {
  const slash = handlerString.lastIndexOf('/');
  const moduleAndPath = handlerString.slice(slash + 1);
  const dot = moduleAndPath.indexOf('.');
  if (dot <= 0 || dot === moduleAndPath.length - 1) {
    throw fault('Runtime.MalformedHandlerName', `Bad handler ${handlerString}`);
  }
  const moduleName = moduleAndPath.slice(0, dot);
  const base = path.resolve(taskRoot, handlerString.slice(0, slash + 1), moduleName);
  const module = await loadModule(base, moduleName);
  let handler = module;
  for (const part of moduleAndPath.slice(dot + 1).split('.')) {
    handler = handler == null ? undefined : handler[part];
  }
  if (handler === undefined) {
    throw fault('Runtime.HandlerNotFound', `${moduleAndPath} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw fault('Runtime.HandlerNotFound', `${moduleAndPath} is not a function`);
  }
  return handler;
}

// ---- one invocation ----

function parseJsonHeader(value) {
  if (!value) return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    return undefined;
  }
}

// What runs when the event loop empties: a callback's answer when callbackWaitsForEmptyEventLoop,
// or a null response from a handler that never answered.
let onEmptyEventLoop = null;
process.on('beforeExit', () => {
  const action = onEmptyEventLoop;
  onEmptyEventLoop = null;
  if (action) action();
});

// Ends the current invocation on an uncaught error, as Lambda does: report it, then exit.
let failCurrent = null;

function runInvocation(handler, next) {
  const headers = next.headers;
  const requestId = headers['lambda-runtime-aws-request-id'];
  const deadline = Number(headers['lambda-runtime-deadline-ms'] || 0);
  if (headers['lambda-runtime-trace-id']) {
    process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'];
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  currentRequestId = requestId;

  return new Promise((resolve) => {
    let finished = false;
    // Posts the answer once; the promise settles when the post is done.
    const finish = (error, result) => {
      if (finished) return Promise.resolve();
      finished = true;
      onEmptyEventLoop = null;
      failCurrent = null;
      let body;
      if (error === null || error === undefined) {
        try {
          body = JSON.stringify(result === undefined ? null : result);
        } catch (serializeError) {
          error = fault('Runtime.MarshalError',
                        `Unable to stringify response body: ${serializeError.message}`);
        }
      }
      let post;
      if (error !== null && error !== undefined) {
        const document = errorDocument(error);
        console.error('Invoke Error', JSON.stringify(document));
        post = postError(`/invocation/${requestId}/error`, document);
      } else {
        post = apiRequest('POST', `/invocation/${requestId}/response`, body,
                          { 'Content-Type': 'application/json' });
      }
      return post.then(() => resolve(), (postFailure) => {
        console.error('Runtime API unreachable', postFailure);
        process.exit(1);
      });
    };
    failCurrent = (error) => finish(error);

    const env = process.env;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: requestId,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME || `/aws/lambda/${env.AWS_LAMBDA_FUNCTION_NAME}`,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: parseJsonHeader(headers['lambda-runtime-cognito-identity']),
      clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
      succeed: (result) => finish(null, result),
      fail: (error) => finish(error === undefined ? new Error('handled') : error),
      done: (error, result) => finish(error, result),
    };
    const callback = (error, result) => {
      if (context.callbackWaitsForEmptyEventLoop) {
        onEmptyEventLoop = () => finish(error, result);
      } else {
        finish(error, result);
      }
    };
    onEmptyEventLoop = () => finish(null, null);  // the handler never answered

    let event;
    try {
      event = JSON.parse(next.body.toString('utf8') || '{}');
    } catch (error) {
      finish(fault('Runtime.UnmarshalError', `Unable to parse the event: ${error.message}`));
      return;
    }
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === 'function') {
        returned.then((result) => finish(null, result),
                      (error) => finish(error === undefined ? new Error('rejected') : error));
      }
    } catch (error) {
      finish(error);
    }
  });
}

// ---- the main loop ----

function exitOnUncaught(error, exitCode) {
  console.error('Uncaught Exception', errorDocument(error));
  if (failCurrent) {
    const fail = failCurrent;
    failCurrent = null;
    fail(error).finally(() => process.exit(exitCode));  // leave once the error is posted
    return;
  }
  process.exit(exitCode);
}

process.on('uncaughtException', (error) => exitOnUncaught(error, 129));
process.on('unhandledRejection', (reason) => {
  const error = fault('Runtime.UnhandledPromiseRejection',
                      reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
                      reason instanceof Error ? reason.stack : undefined);
  exitOnUncaught(error, 128);
});

async function main() {
  patchConsole();
  restoreRandom.install();  // before the handler's code can take crypto's functions
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '');
  } catch (error) {
    const document = errorDocument(error);
    console.error('Init Error', JSON.stringify(document));
    await postError('/init/error', document);
    process.exit(1);
  }
  let restoresSeen = 0;
  for (;;) {
    const next = await nextInvocation();
    const restores = Number(next.headers['ember-restore-count'] || 0);
    if (restores !== restoresSeen) {  // restored from a snapshot since the last invocation
      restoresSeen = restores;
      restoreRandom.afterRestore();
    }
    await runInvocation(handler, next);
  }
}

main().catch((error) => {
  console.error('Runtime failure', error);
  process.exit(1);
});
