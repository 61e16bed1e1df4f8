import { z } from "zod";
import { REASONING_EFFORTS } from "../agents/types.ts";
import { badRequest } from "../errors.ts";
import { DEFAULT_NETWORK_POLICY, networkPolicy } from "./network.ts";

const AGENT_KINDS = ["codex", "claude-code", "command"] as const;
export const INTEGRATIONS = ["slack", "github", "linear", "jira", "discord"] as const;

/** Absolute sandbox paths; the defaults are the provider's workspace and the agent's home (which holds its config). */
const sandboxPath = z
  .string()
  .regex(/^\/[\w./-]*$/, { error: "paths must be absolute, e.g. /workspace" })
  .refine((p) => !p.split("/").includes(".."), { error: "paths must not contain '..'" });

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What a profile version sets up. Non-secret only, since all of it ends up inside the sandbox:
 * credentials stay with the control plane (model proxy, git credential route).
 */
export const profileSpec = z.strictObject({
  /** For people choosing a profile: what it is for. Versioned with the rest of the spec. */
  description: z
    .string()
    .trim()
    .max(500, { error: "description is at most 500 characters" })
    .optional(),
  /** The image the snapshot starts from; the configured SANDBOX_IMAGE when absent. */
  image: z
    .string()
    .trim()
    .regex(/^[\w./:@-]+$/, { error: "image must be an image reference like registry/name:tag" })
    .optional(),
  /** The agent sessions on this version run, and its model settings (AGENT / AGENT_MODEL where absent). */
  agent: z
    .strictObject({
      /** Absent: the configured AGENT (codex unless set otherwise). */
      kind: z.enum(AGENT_KINDS).optional(),
      model: z.string().trim().min(1).max(200).optional(),
      reasoningEffort: z.enum(REASONING_EFFORTS).optional(),
      /** For `command`: the argv to run (it speaks Tandem's JSONL events). */
      command: z.array(z.string().min(1)).min(1).optional(),
    })
    .refine((a) => a.kind !== "command" || a.command, {
      error: "agent.command is required when agent.kind is command",
    })
    .default({}),
  /**
   * Registered repositories (by name) cloned into the snapshot under the workspace. One is the
   * primary: sessions that name no repository use it. The first one when none is marked.
   */
  repositories: z
    .array(z.strictObject({ name: z.string().trim().min(1), primary: z.boolean().optional() }))
    .max(20)
    .superRefine((repos, ctx) => {
      if (repos.filter((r) => r.primary).length > 1)
        ctx.addIssue({ code: "custom", message: "only one repository can be primary" });
      const names = repos.map((r) => r.name);
      const dup = names.filter((n, i) => names.indexOf(n) !== i);
      if (dup.length)
        ctx.addIssue({
          code: "custom",
          message: `repositories listed twice: ${[...new Set(dup)].join(", ")}`,
        });
    })
    .default([]),
  /** Run once with `bash -lc` in the workspace, after the repositories are cloned; its result is the snapshot. */
  setupScript: z.string().max(100_000).default(""),
  env: z
    .record(z.string(), z.string().max(10_000))
    .superRefine((env, ctx) => {
      const bad = Object.keys(env).filter((k) => !envName.test(k));
      if (bad.length)
        ctx.addIssue({
          code: "custom",
          message: `env names must be letters, digits and _ (not starting with a digit): ${bad.join(", ")}`,
        });
    })
    .default({}),
  limits: z
    .strictObject({
      cpus: z.number().positive().max(64).optional(),
      memoryBytes: z
        .number()
        .int()
        .min(64 * 1024 ** 2)
        .optional(),
      pids: z.number().int().min(64).optional(),
      /** Root filesystem size; applied where the engine supports it (overlay2 on xfs with pquota), ignored with a warning elsewhere. */
      diskBytes: z
        .number()
        .int()
        .min(1024 ** 3)
        .optional(),
    })
    .optional(),
  /** Where the sandbox's traffic may go through the gateway's egress proxy; nowhere (`egress: none`) when absent. */
  network: networkPolicy.default(DEFAULT_NETWORK_POLICY),
  /**
   * The old host mode, for development: the sandbox shares the host's network and the policy is
   * not enforced. Refused when a draft is saved unless SANDBOX_ALLOW_HOST_NETWORK=true.
   */
  hostNetwork: z.literal(true, { error: "hostNetwork is true or absent" }).optional(),
  /** Minutes a quiet session keeps its sandbox running; SANDBOX_IDLE_MINUTES when absent. */
  idleMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .optional(),
  /** Where sessions on this profile can be started from, besides the API and the workbench. */
  integrations: z.array(z.enum(INTEGRATIONS)).default([...INTEGRATIONS]),
  /**
   * Opt-in to persistent sandboxes (the org must allow them too): the paths live in named volumes
   * that outlive the container, so a resumed session finds its files and the agent's thread.
   */
  persistent: z
    .strictObject({
      enabled: z.boolean().default(false),
      // Each path is one volume: never the root, and each once (Docker refuses a duplicate mount point).
      paths: z
        .array(
          sandboxPath.refine((p) => p.replace(/\/+$/, "") !== "", {
            error: "a persistent path cannot be /",
          }),
        )
        .min(1)
        .max(10)
        .superRefine((paths, ctx) => {
          const norm = paths.map((p) => p.replace(/\/+$/, ""));
          const dup = norm.filter((p, i) => norm.indexOf(p) !== i);
          if (dup.length)
            ctx.addIssue({
              code: "custom",
              message: `persistent paths listed twice: ${[...new Set(dup)].join(", ")}`,
            });
        })
        .optional(),
    })
    .optional(),
});
export type ProfileSpec = z.infer<typeof profileSpec>;

/**
 * What a network written as a string before policies existed means: `none` stays closed, and
 * `host` or a Docker network name reached anywhere, so they become `open`. The migration
 * 0006_network_policy rewrites stored rows the same way; this covers rows an older process wrote.
 */
const legacyNetworkPolicy = (network: string) => ({
  egress: network === "none" ? ("none" as const) : ("open" as const),
});

/** A stored spec (older rows may hold `{}` or a network string), with the defaults filled in. */
export function storedSpec(value: unknown): ProfileSpec {
  const raw = (value ?? {}) as Record<string, unknown>;
  return profileSpec.parse(
    typeof raw.network === "string" ? { ...raw, network: legacyNetworkPolicy(raw.network) } : raw,
  );
}

/** A 400 for a spec asking for the host's network on an instance that does not allow it. */
export function checkHostNetworkOrThrow(spec: ProfileSpec, allowed: boolean): void {
  if (spec.hostNetwork && !allowed) {
    throw badRequest(
      "hostNetwork is not allowed on this instance (set SANDBOX_ALLOW_HOST_NETWORK=true to allow it)",
    );
  }
}

/** The repository sessions that name none start on. */
export const primaryRepository = (spec: ProfileSpec): string | undefined =>
  (spec.repositories.find((r) => r.primary) ?? spec.repositories[0])?.name;

/** Key-order independent comparison, for "has the draft changed since it was published?". */
export function sameSpec(a: ProfileSpec, b: ProfileSpec): boolean {
  const canon = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x !== undefined)
            .sort(([x], [y]) => x.localeCompare(y))
            .map(([k, x]) => [k, canon(x)]),
        )
      : v;
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}

/** A provider whose API the sandbox gateway serves to the agent with Tandem's credential. */
export type Integration = (typeof INTEGRATIONS)[number];
