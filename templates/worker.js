// molt's Worker: forwards every HTTP request and WebSocket to the one gateway container.
// All logic lives in the gateway; this file only starts the container and applies sleepAfter.
import { Container, getContainer } from "@cloudflare/containers";

const GATEWAY_PORT = 18789;
const INSTANCE = "molt";

// `never` keeps the container running; anything else is a duration such as `10m` or `1h`.
function sleepAfter(raw) {
  if (!raw) return "10m";
  return raw === "never" ? "8760h" : raw;
}

// Every string the Worker holds (its vars and secrets) becomes the container's environment.
function gatewayEnvironment(env) {
  const vars = {};
  for (const [name, value] of Object.entries(env)) {
    if (typeof value === "string") vars[name] = value;
  }
  vars.MOLT_BIND = "0.0.0.0";
  vars.MOLT_PORT = String(GATEWAY_PORT);
  vars.MOLT_DATA_DIR = "/data";
  return vars;
}

export class MoltContainer extends Container {
  defaultPort = GATEWAY_PORT;

  constructor(ctx, env) {
    super(ctx, env);
    this.sleepAfter = sleepAfter(env.SANDBOX_SLEEP_AFTER);
    this.envVars = gatewayEnvironment(env);
  }
}

// The gateway believes `cf-connecting-ip` only on requests carrying MOLT_PROXY_SECRET, and
// checks browser origins against the public host and scheme named here.
function forwarded(request, env) {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  if (env.MOLT_PROXY_SECRET) headers.set("x-molt-proxy-secret", env.MOLT_PROXY_SECRET);
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  return new Request(request, { headers });
}

export default {
  // HTTP and WebSocket upgrades alike: the container's fetch proxies both.
  async fetch(request, env) {
    return getContainer(env.MOLT, INSTANCE).fetch(forwarded(request, env));
  },
};
