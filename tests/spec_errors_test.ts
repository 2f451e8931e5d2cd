/**
 * Malformed specs: each case asserts the exact error (code, location = file + key path, message).
 */
import { assertEquals, assertRejects } from "../src/testing/asserts.ts";
import { loadSpec } from "../src/spec/load.ts";
import { BenchError } from "../src/util/errors.ts";
import { baseSpecValue, specDir } from "./helpers/harness_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Spec = Record<string, any>;

interface Case {
  name: string;
  /** Changes the base spec (file "base.jsonc"), or raw file text. */
  edit?: (s: Spec) => void;
  text?: string;
  /** Other files to write first. */
  files?: Record<string, string | Spec>;
  overrides?: string[];
  code: string;
  /** Location; `FILE` stands for the spec file, `DIR` for the folder. */
  location: string;
  message: string;
}

const OPTIONAL_OUT = "";
const PROTOCOLS = '"amdim-online", "amdim-offline", "linear-probe", "knn"';

const cases: Case[] = [
  {
    name: "unknown top-level key",
    edit: (s) => (s.descripton = "x"),
    code: "spec_invalid",
    location: "FILE: descripton",
    message: 'unknown key "descripton"; did you mean "description"?',
  },
  {
    name: "unknown top-level key without a close match",
    edit: (s) => (s.banana = 1),
    code: "spec_invalid",
    location: "FILE: banana",
    message: 'unknown key "banana"',
  },
  {
    name: "misspelled nested key",
    edit: (s) => {
      s.pretrain.optimzer = s.pretrain.optimizer;
      delete s.pretrain.optimizer;
    },
    code: "spec_invalid",
    location: "FILE: pretrain.optimzer",
    message: 'unknown key "optimzer"; did you mean "optimizer"?',
  },
  {
    name: "misspelled key inside an eval entry",
    edit: (s) => (s.eval[2].temp = 0.1),
    code: "spec_invalid",
    location: "FILE: eval.2.temp",
    message: 'unknown key "temp"; did you mean "temperature"?',
  },
  {
    name: "wrong type: string for an integer",
    edit: (s) => (s.encoder.ndf = "16"),
    code: "spec_invalid",
    location: "FILE: encoder.ndf",
    message: 'expected an integer >= 1, got "16"',
  },
  {
    name: "wrong type: number for a boolean",
    edit: (s) => (s.encoder.useBn = 1),
    code: "spec_invalid",
    location: "FILE: encoder.useBn",
    message: "expected true or false, got 1",
  },
  {
    name: "wrong type: object for the eval list",
    edit: (s) => (s.eval = {}),
    code: "spec_invalid",
    location: "FILE: eval",
    message:
      `expected an array of objects whose "protocol" is one of ${PROTOCOLS} (at least 1), got {}`,
  },
  {
    name: "empty eval list",
    edit: (s) => (s.eval = []),
    code: "spec_invalid",
    location: "FILE: eval",
    message:
      `expected an array of objects whose "protocol" is one of ${PROTOCOLS} (at least 1), got []`,
  },
  {
    name: "negative learning rate",
    edit: (s) => (s.pretrain.optimizer.lr = -2e-4),
    code: "spec_invalid",
    location: "FILE: pretrain.optimizer.lr",
    message: "expected a number > 0, got -0.0002",
  },
  {
    name: "batch size 0",
    edit: (s) => (s.pretrain.batchSize = 0),
    code: "spec_invalid",
    location: "FILE: pretrain.batchSize",
    message: "expected an integer >= 2, got 0",
  },
  {
    name: "non-integer steps",
    edit: (s) => (s.pretrain.steps = 12.5),
    code: "spec_invalid",
    location: "FILE: pretrain.steps",
    message: "expected an integer >= 1 or null, got 12.5",
  },
  {
    name: "both epochs and steps",
    edit: (s) => (s.pretrain.epochs = 3),
    code: "spec_invalid",
    location: "FILE: pretrain",
    message: "set either pretrain.epochs or pretrain.steps, not both",
  },
  {
    name: "neither epochs nor steps",
    edit: (s) => delete s.pretrain.steps,
    code: "spec_invalid",
    location: "FILE: pretrain",
    message: "set one of pretrain.epochs or pretrain.steps",
  },
  {
    name: "unknown dataset id",
    edit: (s) => (s.dataset.id = "cifar-10"),
    code: "spec_invalid",
    location: "FILE: dataset.id",
    message:
      'expected one of "synthetic", "fashion-mnist", "cifar10", "cifar100", "stl10", "imagenet", got "cifar-10"; did you mean "cifar10"?',
  },
  {
    name: "unknown protocol",
    edit: (s) => (s.eval[1].protocol = "linear"),
    code: "spec_invalid",
    location: "FILE: eval.1.protocol",
    message: `expected one of ${PROTOCOLS}, got "linear"; did you mean "linear-probe"?`,
  },
  {
    name: "bad extends target",
    edit: (s) => (s.extends = "nope"),
    code: "spec_not_found",
    location: "FILE: extends",
    message: 'cannot find spec "nope" (looked for DIR/nope.jsonc)',
  },
  {
    name: "extends is not a string",
    edit: (s) => (s.extends = 5),
    code: "spec_invalid",
    location: "FILE: extends",
    message: "expected a spec id or a relative path, got 5",
  },
  {
    name: "extends cycle",
    edit: (s) => (s.extends = "other"),
    files: { other: { extends: "base.jsonc", id: "other" } },
    code: "spec_cycle",
    location: "DIR/other.jsonc: extends",
    message: "extends cycle: FILE -> DIR/other.jsonc -> FILE",
  },
  {
    name: "--set with an unknown key path",
    overrides: ["pretrain.optimzer.lr=1e-3"],
    code: "spec_override",
    location: "--set pretrain.optimzer.lr=1e-3",
    message: 'unknown key "optimzer" in pretrain; did you mean "optimizer"?',
  },
  {
    name: "--set with a value of the wrong type",
    overrides: ["pretrain.batchSize=abc"],
    code: "spec_invalid",
    location: "--set pretrain.batchSize=abc: pretrain.batchSize",
    message: 'expected an integer >= 2, got "abc"',
  },
  {
    name: "--set without a value",
    overrides: ["pretrain.batchSize"],
    code: "spec_override",
    location: "--set pretrain.batchSize",
    message: "expected key.path=value",
  },
  {
    name: "--set on a protocol the spec does not run",
    overrides: ["eval.amdim-offline.epochs=3"],
    code: "spec_override",
    location: "--set eval.amdim-offline.epochs=3",
    message: 'no eval entry with protocol "amdim-offline"; did you mean "amdim-online"?',
  },
  {
    name: "--set cannot change extends",
    overrides: ["extends=other"],
    code: "spec_override",
    location: "--set extends=other",
    message: '"extends" cannot be overridden',
  },
  {
    name: "invalid JSONC",
    text: '{\n  "id": "base"\n  "description": "x"\n}',
    code: "spec_syntax",
    location: "FILE:3:3",
    message: "invalid JSONC: comma expected",
  },
  {
    name: "milestones not increasing",
    edit: (s) => (s.pretrain.schedule.milestones = [15, 10]),
    code: "spec_invalid",
    location: "FILE: pretrain.schedule.milestones",
    message: "expected strictly increasing milestones, got [15,10]",
  },
  {
    name: "milestone beyond the budget",
    edit: (s) => (s.pretrain.schedule.milestones = [10, 20]),
    code: "spec_invalid",
    location: "FILE: pretrain.schedule.milestones",
    message: "milestone 20 is not below the budget of 20 steps",
  },
  {
    name: "beta out of range",
    edit: (s) => (s.pretrain.optimizer.betas = [0.8, 1]),
    code: "spec_invalid",
    location: "FILE: pretrain.optimizer.betas.1",
    message: "expected a number >= 0 and < 1, got 1",
  },
  {
    name: "betas of the wrong length",
    edit: (s) => (s.pretrain.optimizer.betas = [0.9]),
    code: "spec_invalid",
    location: "FILE: pretrain.optimizer.betas",
    message: "expected an array of 2 items, each a number >= 0 and < 1, got [0.9]",
  },
  {
    name: "inputSize not in {32, 64, 128}",
    edit: (s) => (s.encoder.inputSize = 48),
    code: "spec_invalid",
    location: "FILE: encoder.inputSize",
    message: "expected one of 32, 64, 128, got 48",
  },
  {
    name: "input size that does not fit the augmentation policy",
    edit: (s) => (s.augment.policy = "stl10"),
    code: "spec_invalid",
    location: "FILE: encoder.inputSize",
    message: 'augment.policy "stl10" makes 64 px views; expected 64, got 32',
  },
  {
    name: "policy that does not fit the images",
    edit: (s) => (s.augment.policy = "fmnist"),
    code: "spec_invalid",
    location: "FILE: augment.policy",
    message: 'policy "fmnist" expects 28x28x1 images; dataset "synthetic" has 32x32x3',
  },
  {
    name: "unknown split",
    edit: (s) => (s.dataset.trainSplit = "tran"),
    code: "spec_invalid",
    location: "FILE: dataset.trainSplit",
    message: 'unknown split "tran" of dataset "synthetic"; did you mean "train"?',
  },
  {
    name: "synthetic dataset without parameters",
    edit: (s) => (s.dataset.synthetic = null),
    code: "spec_invalid",
    location: "FILE: dataset.synthetic",
    message:
      'dataset "synthetic" needs dataset.synthetic {n, testN, height, width, channels, numClasses, seed}',
  },
  {
    name: "missing key in synthetic parameters",
    edit: (s) => delete s.dataset.synthetic.numClasses,
    code: "spec_invalid",
    location: "FILE: dataset.synthetic.numClasses",
    message: 'missing required key "numClasses" (expected an integer >= 2)',
  },
  {
    name: "pin that is not a sha256",
    edit: (s) => {
      s.dataset = { id: "fashion-mnist", pins: { "train-images-idx3-ubyte.gz": "abc" } };
    },
    code: "spec_invalid",
    location: "FILE: dataset.pins.train-images-idx3-ubyte.gz",
    message: 'expected a lower-case hex sha256 (64 characters) or null, got "abc"',
  },
  {
    name: "pin of a file the dataset does not have",
    edit: (s) => {
      s.dataset = { id: "fashion-mnist", pins: { "train-images.gz": null } };
    },
    code: "spec_invalid",
    location: "FILE: dataset.pins.train-images.gz",
    message: 'unknown file "train-images.gz" of dataset "fashion-mnist"',
  },
  {
    name: "real dataset with a source left unpinned",
    edit: (s) => {
      s.dataset = { id: "cifar10", pins: {} };
    },
    code: "spec_invalid",
    location: "FILE: dataset.pins",
    message: 'missing a pin for "cifar-10-binary.tar.gz" (a sha256, or null when none is known)',
  },
  {
    name: "missing required section",
    edit: (s) => delete s.augment,
    code: "spec_invalid",
    location: "FILE: augment",
    message: 'missing required key "augment" (expected an object)',
  },
  {
    name: "protocol listed twice",
    edit: (s) => s.eval.push({ protocol: "knn" }),
    code: "spec_invalid",
    location: "FILE: eval.3.protocol",
    message: 'protocol "knn" appears twice in eval (entries 2 and 3)',
  },
  {
    name: "online protocol without online heads",
    edit: (s) => (s.pretrain.onlineHeads = false),
    code: "spec_invalid",
    location: "FILE: eval.0.protocol",
    message: "amdim-online needs pretrain.onlineHeads = true",
  },
  {
    name: "gated metric of a protocol that is not run",
    edit: (s) => (s.gate.metrics["amdim-offline.linear.top1"] = { absTolerance: 0.01 }),
    code: "spec_invalid",
    location: "FILE: gate.metrics.amdim-offline.linear.top1",
    message:
      'metric "amdim-offline.linear.top1" belongs to protocol "amdim-offline", which eval does not run',
  },
  {
    name: "gated metric with an invalid name",
    edit: (s) => (s.gate.metrics["linear-probe.top3"] = { absTolerance: 0.01 }),
    code: "spec_invalid",
    location: "FILE: gate.metrics.linear-probe.top3",
    message:
      'invalid key "linear-probe.top3"; expected a metric name: amdim-online.linear|mlp, amdim-offline.linear|mlp, linear-probe or knn, then .top1 or .top5',
  },
  {
    name: "negative tolerance",
    edit: (s) => (s.gate.metrics["linear-probe.top1"].absTolerance = -0.1),
    code: "spec_invalid",
    location: "FILE: gate.metrics.linear-probe.top1.absTolerance",
    message: "expected a number >= 0, got -0.1",
  },
  {
    name: "alpha out of range",
    edit: (s) => (s.gate.alpha = 1),
    code: "spec_invalid",
    location: "FILE: gate.alpha",
    message: "expected a number > 0 and < 1, got 1",
  },
  {
    name: "unknown published reference",
    edit: (s) => (s.reference = { id: "amdim-cifar10-linaer" }),
    code: "spec_invalid",
    location: "FILE: reference.id",
    message:
      'unknown published reference "amdim-cifar10-linaer"; did you mean "amdim-cifar10-linear"?',
  },
  {
    name: "id that does not match the file name",
    edit: (s) => (s.id = "other"),
    code: "spec_invalid",
    location: "FILE: id",
    message: 'id "other" does not match the file name "base.jsonc"',
  },
  {
    name: "tclip 0",
    edit: (s) => (s.loss = { tclip: 0 }),
    code: "spec_invalid",
    location: "FILE: loss.tclip",
    message: "expected a number > 0, got 0",
  },
  {
    name: "knn k 0",
    edit: (s) => (s.eval[2].k = 0),
    code: "spec_invalid",
    location: "FILE: eval.2.k",
    message: "expected an integer >= 1, got 0",
  },
  {
    name: "gamma above 1",
    edit: (s) => (s.pretrain.schedule.gamma = 1.5),
    code: "spec_invalid",
    location: "FILE: pretrain.schedule.gamma",
    message: "expected a number > 0 and <= 1, got 1.5",
  },
  {
    name: "unknown augmentation policy",
    edit: (s) => (s.augment.policy = "cifar10"),
    code: "spec_invalid",
    location: "FILE: augment.policy",
    message:
      'expected one of "cifar", "stl10", "imagenet", "fmnist", "none", got "cifar10"; did you mean "cifar"?',
  },
];

for (const c of cases) {
  Deno.test(`spec error: ${c.name}`, async () => {
    const tmp = await specDir();
    try {
      for (const [name, content] of Object.entries(c.files ?? {})) await tmp.write(name, content);
      let file: string;
      if (c.text !== undefined) file = await tmp.write("base", c.text);
      else {
        const value = baseSpecValue();
        c.edit?.(value);
        file = await tmp.write("base", value);
      }
      const error = await assertRejects(
        () => loadSpec(file, { specsDir: tmp.dir, overrides: c.overrides }),
        BenchError,
      );
      const sub = (s: string) => s.replaceAll("FILE", file).replaceAll("DIR", tmp.dir);
      assertEquals(
        { code: error.code, location: error.location, message: error.message },
        { code: c.code, location: sub(c.location), message: sub(c.message) },
      );
    } finally {
      await tmp.cleanup();
    }
  });
}

Deno.test("spec error cases: there are at least 30", () => {
  assertEquals(cases.length >= 30, true, OPTIONAL_OUT);
});
