import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLogger,
  DockerSandboxProvider,
  execCollect,
  LocalSandboxProvider,
  type SandboxProvider,
  type SandboxSpec,
} from "@tandem/core";
import { dockerAvailable, SANDBOX_IMAGE } from "./helpers/docker.ts";
import { randomSuffix } from "./helpers/runtime.ts";

const logger = createLogger({ level: "silent", service: "test" });
const baseDir = mkdtempSync(path.join(tmpdir(), "tandem-local-"));
const providers: Array<[string, () => SandboxProvider, boolean]> = [
  ["docker", () => new DockerSandboxProvider({ logger }), !dockerAvailable()],
  ["local", () => new LocalSandboxProvider({ baseDir, logger }), false],
];
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));

const spec = (name: string) => ({
  name: `tandem-test-${name}-${randomSuffix()}`,
  image: SANDBOX_IMAGE,
  labels: { "tandem.org": "org-1", "tandem.session": name, "tandem.profile_version": "pv-1" },
  env: { GREETING: "hello" },
  network: "none",
  limits: { cpus: 1, memoryBytes: 512 * 1024 * 1024, pids: 256 },
});

describe.each(providers)("SandboxProvider contract: %s", (_kind, make, skip) => {
  const created: string[] = [];
  let provider: SandboxProvider;
  afterAll(async () => {
    for (const id of created) await provider.remove(id).catch(() => {});
  });
  const newSandbox = async (name: string, extra: Partial<SandboxSpec> = {}) => {
    provider ??= make();
    const id = await provider.create({ ...spec(name), ...extra });
    created.push(id);
    await provider.start(id);
    return id;
  };

  it.skipIf(skip)(
    "creates, labels, runs commands with cwd, env and stdin, and reports exit codes",
    async () => {
      const id = await newSandbox("exec");
      const info = await provider.inspect(id);
      expect(info).toMatchObject({
        id,
        state: "running",
        labels: expect.objectContaining({ "tandem.session": "exec", "tandem.org": "org-1" }),
      });
      const { workspace } = provider.layout(id);
      const r = await execCollect(
        provider,
        id,
        ["sh", "-c", 'pwd; echo "$GREETING $EXTRA"; echo oops >&2; exit 3'],
        { env: { EXTRA: "world" } },
      );
      expect(r).toEqual({ exitCode: 3, stdout: `${workspace}\nhello world\n`, stderr: "oops\n" });
      const cat = await execCollect(provider, id, ["cat"], { input: "piped in" });
      expect(cat.stdout).toBe("piped in");
      const sub = `${workspace}/acme/app`;
      await execCollect(provider, id, ["mkdir", "-p", sub]);
      expect((await execCollect(provider, id, ["pwd"], { cwd: sub })).stdout.trim()).toBe(sub);
    },
  );

  it.skipIf(skip)("gives a TTY that can be resized", async () => {
    const id = await newSandbox("tty");
    const proc = await provider.exec(id, ["sh", "-c", "stty size; read line; stty size"], {
      tty: true,
      stdin: true,
      size: { cols: 80, rows: 24 },
    });
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 50 && !out.includes("24 80"); i++)
      await new Promise((r) => setTimeout(r, 50));
    await proc.resize({ cols: 132, rows: 40 });
    proc.stdin!.write("\n");
    expect((await proc.wait()).exitCode).toBe(0);
    expect(out).toMatch(/24 80[\s\S]*40 132/);
  });

  it.skipIf(skip)(
    "stops, keeps the filesystem across a restart, and refuses exec while stopped",
    async () => {
      const id = await newSandbox("restart");
      const file = `${provider.layout(id).workspace}/kept.txt`;
      await execCollect(provider, id, ["sh", "-c", `echo kept > ${file}`]);
      const started = Date.now();
      await provider.stop(id);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await provider.inspect(id)).state).toBe("stopped");
      await expect(provider.exec(id, ["true"])).rejects.toThrow();
      await provider.start(id);
      expect((await execCollect(provider, id, ["cat", file])).stdout).toBe("kept\n");
    },
  );

  it.skipIf(skip)("commits a sandbox to an image that new sandboxes start from", async () => {
    const id = await newSandbox("commit");
    await execCollect(provider, id, [
      "sh",
      "-c",
      `echo baked > ${provider.layout(id).home}/baked.txt`,
    ]);
    const image = await provider.commit(id, `tandem-test/commit-${randomSuffix()}:v1`);
    provider = make();
    const child = await provider.create({ ...spec("from-image"), image });
    created.push(child);
    await provider.start(child);
    expect(
      (await execCollect(provider, child, ["cat", `${provider.layout(child).home}/baked.txt`]))
        .stdout,
    ).toBe("baked\n");
    if (provider.kind === "docker") spawnSync("docker", ["rmi", "-f", image]);
  });

  it.skipIf(skip)(
    "keeps volumes across a removed and re-created sandbox, until they are removed (or refuses them)",
    async () => {
      provider ??= make();
      const name = `tandem-test-vol-${randomSuffix()}`;
      const layout = provider.layout("probe");
      const volumes = [
        { name: `${name}-1`, path: layout.workspace },
        { name: `${name}-2`, path: layout.home },
      ];
      if (!provider.supportsVolumes) {
        await expect(provider.create({ ...spec("volumes"), volumes })).rejects.toThrow(
          /no volumes; persistent sandboxes need SANDBOX_PROVIDER=docker/,
        );
        await provider.removeVolume(volumes[0]!.name); // nothing to remove, and no error
        return;
      }
      try {
        const first = await newSandbox("volumes-a", { volumes });
        // An empty volume starts with the image's files at its path (the agent's dotfiles here).
        expect(
          (await execCollect(provider, first, ["test", "-f", `${layout.home}/.bashrc`])).exitCode,
        ).toBe(0);
        await execCollect(provider, first, [
          "sh",
          "-c",
          `echo work > ${layout.workspace}/w.txt && echo conf > ${layout.home}/c.txt`,
        ]);
        await provider.remove(first);
        const second = await newSandbox("volumes-b", { volumes });
        expect(
          (
            await execCollect(provider, second, [
              "cat",
              `${layout.workspace}/w.txt`,
              `${layout.home}/c.txt`,
            ])
          ).stdout,
        ).toBe("work\nconf\n");
        await expect(provider.removeVolume(volumes[0]!.name)).rejects.toThrow(/still mounted/);
        await provider.remove(second);
        for (const v of volumes) await provider.removeVolume(v.name);
        const third = await newSandbox("volumes-c", { volumes });
        expect(
          (await execCollect(provider, third, ["test", "-e", `${layout.workspace}/w.txt`]))
            .exitCode,
        ).not.toBe(0);
        await provider.remove(third);
      } finally {
        for (const v of volumes) await provider.removeVolume(v.name).catch(() => {});
      }
    },
  );

  it.skipIf(skip)(
    "runs a sandbox with a disk limit, capped where the engine can and without the cap where it cannot",
    async () => {
      const id = await newSandbox("disk", {
        limits: { ...spec("disk").limits, diskBytes: 2 * 1024 ** 3 },
      });
      expect((await execCollect(provider, id, ["true"])).exitCode).toBe(0);
    },
  );

  it.skipIf(skip)(
    "labels a committed image, lists it by repository and label, and removes it once unused",
    async () => {
      const id = await newSandbox("image-labels");
      const repository = `tandem-test/labels-${randomSuffix()}`;
      const image = await provider.commit(id, `${repository}:v1`, {
        labels: { "tandem.org": "org-labels", "tandem.snapshot": 'snap "1"' },
      });
      expect(await provider.listImages({ repository, labelKeys: ["tandem.org"] })).toEqual([
        {
          ref: image,
          labels: expect.objectContaining({
            "tandem.org": "org-labels",
            "tandem.snapshot": 'snap "1"',
          }),
        },
      ]);
      expect(await provider.listImages({ repository, labelKeys: ["tandem.other"] })).toEqual([]);
      const child = await provider.create({ ...spec("labelled-child"), image });
      created.push(child);
      // Docker keeps an image a container was created from; local sandboxes are copies of it.
      expect(await provider.removeImage(image)).toBe(
        provider.kind === "docker" ? "in_use" : "removed",
      );
      await provider.remove(child);
      if (provider.kind === "docker") expect(await provider.removeImage(image)).toBe("removed");
      expect(await provider.removeImage(image)).toBe("missing");
      expect(await provider.listImages({ repository, labelKeys: ["tandem.org"] })).toEqual([]);
    },
  );

  it.skipIf(skip)("removes a sandbox, after which it is missing", async () => {
    const id = await newSandbox("remove");
    await provider.remove(id);
    expect((await provider.inspect(id)).state).toBe("missing");
  });
});

describe.skipIf(!dockerAvailable())("docker provider specifics", () => {
  it("applies the profile's limits and network mode", async () => {
    const provider = new DockerSandboxProvider({ logger });
    const id = await provider.create(spec("limits"));
    try {
      await provider.start(id);
      const inspect = JSON.parse(spawnSync("docker", ["inspect", id]).stdout.toString())[0];
      expect(inspect.HostConfig).toMatchObject({
        NanoCpus: 1e9,
        Memory: 512 * 1024 * 1024,
        PidsLimit: 256,
        NetworkMode: "none",
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Privileged: false,
      });
      expect(inspect.HostConfig.CapAdd ?? []).toEqual([]);
      expect(inspect.Config.User).toBe("1000:1000");
      expect(inspect.Config.Labels["tandem.profile_version"]).toBe("pv-1");
      const user = await execCollect(provider, id, ["id", "-un"]);
      expect(user.stdout.trim()).toBe("agent");
    } finally {
      await provider.remove(id);
    }
  });

  it("labels volumes with their owner, and tries a disk limit once: capped, or one warning and no cap", async () => {
    const lines: Array<{ msg: string }> = [];
    const capturing = pino(
      { level: "warn" },
      { write: (line: string) => void lines.push(JSON.parse(line)) },
    );
    const provider = new DockerSandboxProvider({ logger: capturing });
    const volume = { name: `tandem-test-label-${randomSuffix()}`, path: "/workspace" };
    const ids: string[] = [];
    try {
      for (const name of ["disk-1", "disk-2"]) {
        ids.push(
          await provider.create({
            ...spec(name),
            volumes: name === "disk-1" ? [volume] : [],
            limits: { diskBytes: 2 * 1024 ** 3 },
          }),
        );
      }
      const labels = JSON.parse(
        spawnSync("docker", ["volume", "inspect", volume.name]).stdout.toString(),
      )[0].Labels;
      expect(labels).toMatchObject({
        "tandem.managed": "true",
        "tandem.org": "org-1",
        "tandem.session": "disk-1",
        "tandem.path": "/workspace",
      });
      const capped = ids.map(
        (id) =>
          JSON.parse(spawnSync("docker", ["inspect", id]).stdout.toString())[0].HostConfig
            .StorageOpt?.size,
      );
      const warnings = lines.filter((l) => l.msg.startsWith("sandbox.disk_limit_unsupported"));
      if (capped[0])
        expect({ capped, warnings }).toEqual({
          capped: ["2147483648", "2147483648"],
          warnings: [],
        });
      else
        expect({ capped, warnings: warnings.length }).toEqual({
          capped: [undefined, undefined],
          warnings: 1,
        });
    } finally {
      for (const id of ids) await provider.remove(id);
      await provider.removeVolume(volume.name);
    }
  });
});

describe.skipIf(!dockerAvailable())("docker provider hardening", () => {
  const tag = randomSuffix();
  // A root image with a setuid-root copy of `id`, and one whose agent user and folders are gone.
  const images = {
    root: {
      ref: `tandem-test/root-user:${tag}`,
      dockerfile:
        "USER root\nRUN cp /usr/bin/id /usr/local/bin/suid-id && chmod 4755 /usr/local/bin/suid-id",
    },
    noAgent: {
      ref: `tandem-test/no-agent:${tag}`,
      dockerfile: "USER root\nRUN userdel --remove agent && rm -rf /workspace",
    },
  };
  const provider = new DockerSandboxProvider({ logger });
  const ids: string[] = [];
  beforeAll(() => {
    for (const { ref, dockerfile } of Object.values(images)) {
      const built = spawnSync(
        "docker",
        ["build", "--network", "host", "--label", "tandem.test=hardening", "-t", ref, "-"],
        {
          input: `FROM ${SANDBOX_IMAGE}\n${dockerfile}\n`,
        },
      );
      if (built.status !== 0) throw new Error(`docker build ${ref}: ${built.stderr.toString()}`);
    }
  }, 120_000);
  afterAll(async () => {
    for (const id of ids) await provider.remove(id);
    for (const { ref } of Object.values(images)) spawnSync("docker", ["rmi", "-f", ref]);
  });

  it("runs every command as uid 1000 with no capabilities, no_new_privs, and no setuid escalation, even from a root image", async () => {
    const id = await provider.create({ ...spec("root-image"), image: images.root.ref });
    ids.push(id);
    await provider.start(id);
    expect(
      JSON.parse(spawnSync("docker", ["image", "inspect", images.root.ref]).stdout.toString())[0]
        .Config.User,
    ).toBe("root");
    expect((await execCollect(provider, id, ["id", "-u"])).stdout.trim()).toBe("1000");
    // PID 1 too: the container's own user, not only each exec's.
    expect((await execCollect(provider, id, ["stat", "-c", "%u", "/proc/1"])).stdout.trim()).toBe(
      "1000",
    );
    const status = (await execCollect(provider, id, ["cat", "/proc/self/status"])).stdout;
    expect(status).toMatch(/^CapEff:\s+0{16}$/m);
    expect(status).toMatch(/^CapBnd:\s+0{16}$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(
      (
        await execCollect(provider, id, ["stat", "-c", "%a %u", "/usr/local/bin/suid-id"])
      ).stdout.trim(),
    ).toBe("4755 0");
    expect((await execCollect(provider, id, ["/usr/local/bin/suid-id", "-u"])).stdout.trim()).toBe(
      "1000",
    );
    // What root could do with a capability fails: no CAP_SYS_ADMIN to mount, no CAP_CHOWN.
    expect(
      (await execCollect(provider, id, ["mount", "-t", "tmpfs", "x", "/tmp"])).exitCode,
    ).not.toBe(0);
  });

  it("refuses to start an image without a home and workspace for uid 1000, saying what the image needs", async () => {
    const id = await provider.create({ ...spec("no-agent"), image: images.noAgent.ref });
    ids.push(id);
    await expect(provider.start(id)).rejects.toMatchObject({
      code: "sandbox_image_unfit",
      message: expect.stringMatching(
        /no \/home\/agent and \/workspace writable by uid 1000.*FROM tandem\/sandbox/,
      ),
    });
    expect((await provider.inspect(id)).state).toBe("stopped");
  });

  it("never mounts the Docker socket, nor a host path posing as a volume", async () => {
    const name = `tandem-test-socket-${randomSuffix()}`;
    for (const source of ["/var/run/docker.sock", "/run"]) {
      await expect(
        provider.create({
          ...spec("socket"),
          name,
          volumes: [{ name: source, path: "/var/run/docker.sock" }],
        }),
      ).rejects.toMatchObject({ code: "sandbox_mount_refused" });
    }
    expect(spawnSync("docker", ["container", "inspect", name]).status).not.toBe(0);
    const { assertNoDockerSocket } = await import("../core/src/sandbox/docker/hardening.ts");
    for (const hostConfig of [
      { Binds: ["/var/run/docker.sock:/var/run/docker.sock"] },
      { Binds: ["/var/run:/host-run:ro"] },
      {
        Mounts: [
          { Type: "bind" as const, Source: "/run/user/1000/docker.sock", Target: "/d.sock" },
        ],
      },
      { Mounts: [{ Type: "bind" as const, Source: "/run/tandem-docker/", Target: "/x" }] },
      { Mounts: [{ Type: "bind" as const, Source: "/", Target: "/host" }] },
    ])
      expect(() => assertNoDockerSocket(hostConfig), JSON.stringify(hostConfig)).toThrow(
        /Docker socket/,
      );
    expect(() =>
      assertNoDockerSocket({
        Mounts: [{ Type: "bind", Source: "/srv/tandem/gateway", Target: "/run/gateway" }],
      }),
    ).not.toThrow();
  });
});

describe("DOCKER_HOST", () => {
  it("reaches unix sockets, tcp and ssh engines", async () => {
    const { dockerOptions } = await import("../core/src/sandbox/docker/provider.ts");
    expect(dockerOptions(undefined)).toEqual({ socketPath: "/var/run/docker.sock" });
    expect(dockerOptions("unix:///run/user/1000/docker.sock")).toEqual({
      socketPath: "/run/user/1000/docker.sock",
    });
    expect(dockerOptions("tcp://127.0.0.1:2375")).toEqual({
      protocol: "http",
      host: "127.0.0.1",
      port: 2375,
    });
    expect(dockerOptions("ssh://builder@127.0.0.1:2222")).toEqual({
      protocol: "ssh",
      host: "127.0.0.1",
      port: 2222,
      username: "builder",
    });
  });
});
