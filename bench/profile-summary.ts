/**
 * Where a V8 CPU profile's time went, by component. Each sample is charged to the nearest frame
 * (itself or an ancestor) that belongs to a component we can name, so Node internals (a socket
 * write, a crypto job) count towards the library that called them.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  sampledMs: number;
  /** Share (0–1) of the sampled time per component, largest first. */
  components: { component: string; share: number }[];
  /** The functions with the most self time, with the component they are charged to. */
  topSelf: { frame: string; component: string; share: number }[];
}

const PSEUDO_FRAMES = new Set(["(garbage collector)", "(idle)", "(program)"]);

function ownComponent(frame: CallFrame): string | undefined {
  const { url, functionName } = frame;
  if (PSEUDO_FRAMES.has(functionName)) return functionName;
  // Profiler.start/stop run inside the profiled window.
  if (url.startsWith("node:inspector")) return "(the profiler itself)";
  // cls-hooked (imported by the X-Ray SDK in Powertools Tracer) enables an async hook with a
  // destroy callback, so every promise in the process pays for destroy tracking.
  if (url === "node:internal/async_hooks" || functionName === "registerDestroyHook")
    return "async_hooks destroy tracking (X-Ray SDK's cls-hooked)";
  if (url.includes("/tools/local/") || /node_modules\/pg(-protocol|-types)?\//.test(url))
    return "local Data API endpoint (incl. its pg client)";
  if (/node_modules\/(@smithy|@aws-sdk)\//.test(url)) return "AWS SDK (build, sign, send, parse)";
  if (url.includes("node_modules/jose/")) return "token verification (jose, WebCrypto HMAC)";
  if (
    url.includes("/functions/") ||
    /node_modules\/(@middy|@aws-lambda-powertools|zod|aws-xray-sdk-core)\//.test(url)
  )
    return "handler (middy, Powertools, zod, our code)";
  if (url.includes("/bench/") || url.includes("/test/support/")) return "load generator";
  return undefined;
}

const frameName = (frame: CallFrame) =>
  frame.url
    ? `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\//, "")}:${frame.lineNumber + 1}`
    : frame.functionName;

export function summariseProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node);

  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const componentOf = (node: ProfileNode): string => {
    for (let at: ProfileNode | undefined = node; at; at = parent.get(at.id)) {
      const component = ownComponent(at.callFrame);
      if (component) return component;
    }
    return "Node runtime, no caller above it (HTTP parser, timers)";
  };

  let total = 0;
  const components = new Map<string, number>();
  const selves = new Map<string, { component: string; micros: number }>();
  for (const [id, micros] of selfMicros) {
    const node = byId.get(id);
    if (!node) continue;
    total += micros;
    const component = componentOf(node);
    components.set(component, (components.get(component) ?? 0) + micros);
    // The same native function (a socket write) is charged to whoever called it.
    const key = `${frameName(node.callFrame)}\u0000${component}`;
    const self = selves.get(key) ?? { component, micros: 0 };
    self.micros += micros;
    selves.set(key, self);
  }
  const share = (micros: number) => (total === 0 ? 0 : micros / total);
  return {
    sampledMs: Math.round(total / 1000),
    components: [...components]
      .sort((a, b) => b[1] - a[1])
      .map(([component, micros]) => ({ component, share: share(micros) })),
    topSelf: [...selves]
      .sort((a, b) => b[1].micros - a[1].micros)
      .slice(0, 8)
      .map(([key, { component, micros }]) => ({
        frame: key.split("\u0000")[0] as string,
        component,
        share: share(micros),
      })),
  };
}
