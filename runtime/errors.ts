/** Errors a user sees: one line, naming what was wrong. */
export class DruntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DruntimeError";
  }
}

/** One problem in a config.json, at a JSON path such as `process.args` or `mounts[2].destination`. */
export interface ConfigProblem {
  path: string;
  reason: string;
}

/** A config.json that fails validation; the message lists every problem with its JSON path. */
export class ConfigError extends DruntimeError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      problems.length === 1
        ? `invalid config: ${problems[0].path}: ${problems[0].reason}`
        : `invalid config:\n${problems.map((p) => `  ${p.path}: ${p.reason}`).join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** A failure inside the container's init, naming the pipeline stage it happened in. */
export class StageError extends DruntimeError {
  readonly stage: string;
  readonly detail: string;
  constructor(stage: string, detail: string) {
    super(`${stage}: ${detail}`);
    this.name = "StageError";
    this.stage = stage;
    this.detail = detail;
  }
}
