import { z } from "zod";

/** What a profile version sets up; non-secret only, since all of it ends up inside the sandbox. */
export const profileSpec = z.strictObject({
  /** The image the snapshot starts from; the configured SANDBOX_IMAGE when absent. */
  image: z.string().trim().regex(/^[\w./:@-]+$/, { error: "image must be an image reference like registry/name:tag" }).optional(),
  /** Run once with `bash -lc` in the workspace when the version is published; its result is the snapshot. */
  setupScript: z.string().max(100_000).default(""),
  env: z.record(z.string(), z.string().max(10_000)).superRefine((env, ctx) => {
    const bad = Object.keys(env).filter((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
    if (bad.length) ctx.addIssue({ code: "custom", message: `env names must be letters, digits and _ (not starting with a digit): ${bad.join(", ")}` });
  }).default({}),
  limits: z.strictObject({
    cpus: z.number().positive().max(64).optional(),
    memoryBytes: z.number().int().min(64 * 1024 ** 2).optional(),
    pids: z.number().int().min(64).optional(),
  }).optional(),
  idleMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
});
export type ProfileSpec = z.infer<typeof profileSpec>;

/** A stored spec (older rows may hold `{}`), with the defaults filled in. */
export const storedSpec = (value: unknown): ProfileSpec => profileSpec.parse(value ?? {});

/** Key-order independent comparison, for "has the draft changed since it was published?". */
export function sameSpec(a: ProfileSpec, b: ProfileSpec): boolean {
  const canon = (v: unknown): unknown => (v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([x], [y]) => x.localeCompare(y)).map(([k, x]) => [k, canon(x)]))
    : v);
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
