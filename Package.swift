// swift-tools-version:6.0
// The monorepo manifest: one table row per local package (see DESIGN.md).
import Foundation
import PackageDescription

let packageRoot = Context.packageDirectory

/// One local package of the monorepo: a library at `Packages/<name>`, its tests at
/// `Tests/<name>Tests`, and optionally an experiment executable at `Experiments/<experiment>`.
struct LocalPackage {
    var name: String
    var deps: [String] = []
    var experiment: String? = nil
    var experimentDeps: [String] = []
    /// Executables the tests run as subprocesses (built before the tests).
    var testDeps: [String] = []
}

let packages: [LocalPackage] = [
    LocalPackage(name: "LabSupport"),
    LocalPackage(name: "TensorCore", deps: ["CBLAS"]),
    LocalPackage(name: "HDF5Store", deps: ["CHDF5", "TensorCore", "Crypto"]),
    LocalPackage(
        name: "MinHash", deps: ["Crypto"], experiment: "minhash", experimentDeps: ["ExperimentKit", "TensorCore"],
        testDeps: ["minhash", "dedup"]),
    LocalPackage(
        name: "NanoTransformer", deps: ["TensorCore", "Tokenizer"], experiment: "nano-transformer",
        experimentDeps: ["Pretraining", "ExperimentKit"], testDeps: ["HDF5Store", "nano-transformer"]),
    LocalPackage(
        name: "ModelStore", deps: ["NanoTransformer", "MLA", "MoE", "HDF5Store", "Tokenizer"],
        testDeps: ["nano-transformer", "mla", "moe", "Pretraining"]),
    LocalPackage(
        name: "Distributed", deps: ["CMPI", "TensorCore"],
        testDeps: ["nano-transformer", "moe", "mlp-demo", "grpo", "base-models", "HDF5Store"]),
    LocalPackage(
        name: "Pretraining",
        deps: ["NanoTransformer", "ModelStore", "ExperimentKit", "HDF5Store", "Tokenizer", "Distributed"]),
    LocalPackage(
        name: "MLA", deps: ["NanoTransformer", "TensorCore"], experiment: "mla",
        experimentDeps: ["Pretraining", "ExperimentKit", "HDF5Store"], testDeps: ["mla", "HDF5Store"]),
    LocalPackage(
        name: "MoE", deps: ["NanoTransformer", "TensorCore"], experiment: "moe",
        experimentDeps: ["Pretraining", "ExperimentKit"], testDeps: ["moe", "HDF5Store", "Pretraining"]),
    LocalPackage(name: "PolicyGradient", deps: ["TensorCore"]),
    LocalPackage(
        name: "PPO", deps: ["PolicyGradient", "TensorCore", "HDF5Store"], experiment: "ppo-37-tricks",
        experimentDeps: ["ExperimentKit", "HDF5Store"], testDeps: ["ppo-37-tricks", "HDF5Store"]),
    LocalPackage(
        name: "Tokenizer", experiment: "tokenizer", experimentDeps: ["ExperimentKit", "TensorCore"],
        testDeps: ["tokenizer"]),
    LocalPackage(
        name: "ExperimentKit", deps: ["HDF5Store", "ArgumentParser"], experiment: "mlp-demo",
        testDeps: ["mlp-demo", "lab"]),
    LocalPackage(
        name: "LabNotes", deps: ["ExperimentKit", "HDF5Store"],
        testDeps: ["ExperimentKit", "HDF5Store", "mlp-demo", "lab"]),
    LocalPackage(
        name: "PostTraining",
        deps: [
            "TensorCore", "Tokenizer", "NanoTransformer", "MoE", "ModelStore", "HDF5Store", "ExperimentKit", "Crypto",
        ],
        experiment: "sft", experimentDeps: ["ExperimentKit", "NanoTransformer", "TensorCore"],
        testDeps: ["HDF5Store", "sft", "base-models", "PolicyTestSupport"]),
    LocalPackage(
        name: "RewardBPR",
        deps: ["PostTraining", "NanoTransformer", "ModelStore", "HDF5Store", "ExperimentKit", "TensorCore"],
        experiment: "reward-bpr",
        experimentDeps: ["PostTraining", "NanoTransformer", "ModelStore", "HDF5Store", "TensorCore", "Tokenizer"],
        testDeps: ["HDF5Store", "NanoTransformer", "reward-bpr", "base-models", "Tokenizer", "ModelStore"]),
    LocalPackage(
        name: "DPO",
        deps: ["PostTraining", "RewardBPR", "NanoTransformer", "ExperimentKit", "HDF5Store", "TensorCore"],
        experiment: "dpo",
        experimentDeps: [
            "PostTraining", "RewardBPR", "RLHF", "NanoTransformer", "ModelStore", "HDF5Store", "TensorCore",
            "Tokenizer",
        ],
        testDeps: ["dpo", "reward-bpr", "base-models", "HDF5Store", "NanoTransformer", "Tokenizer"]),
    LocalPackage(
        name: "GRPO",
        deps: [
            "PolicyGradient", "PostTraining", "NanoTransformer", "MoE", "ExperimentKit", "HDF5Store", "TensorCore",
            "Distributed",
        ],
        experiment: "grpo",
        experimentDeps: ["PostTraining", "NanoTransformer", "ModelStore", "HDF5Store", "TensorCore", "Tokenizer"],
        testDeps: ["Tokenizer", "MoE", "grpo", "base-models", "HDF5Store", "PolicyTestSupport"]),
    LocalPackage(
        name: "GSPO", deps: ["GRPO", "PolicyGradient"], experiment: "gspo",
        experimentDeps: ["GRPO", "ExperimentKit"],
        testDeps: [
            "GRPO", "PolicyGradient", "MoE", "NanoTransformer", "PostTraining", "TensorCore", "Tokenizer", "HDF5Store",
            "PolicyTestSupport", "gspo", "base-models",
        ]),
    LocalPackage(
        name: "R1Pipeline",
        deps: [
            "PostTraining", "GRPO", "RewardBPR", "NanoTransformer", "ModelStore", "ExperimentKit", "HDF5Store",
            "TensorCore", "Tokenizer", "Crypto",
        ],
        experiment: "r1-pipeline", experimentDeps: ["ExperimentKit"],
        testDeps: ["HDF5Store", "ExperimentKit", "PostTraining", "base-models", "reward-bpr", "r1-pipeline"]),
    LocalPackage(
        name: "KnowledgeAndTools",
        deps: [
            "PostTraining", "GRPO", "NanoTransformer", "ModelStore", "HDF5Store", "ExperimentKit", "Tokenizer",
            "TensorCore",
        ],
        experiment: "knowledge-and-tools", experimentDeps: ["ExperimentKit"],
        testDeps: ["PolicyTestSupport", "knowledge-and-tools", "HDF5Store"]),
    LocalPackage(
        name: "DataPipeline", deps: ["MinHash", "Tokenizer", "TensorCore", "NanoTransformer", "Crypto"],
        experiment: "data-pipeline", experimentDeps: ["ExperimentKit", "Pretraining", "ModelStore"],
        testDeps: ["NanoTransformer", "Tokenizer", "TensorCore", "data-pipeline", "nano-transformer"]),
    LocalPackage(
        name: "Interop", deps: ["NanoTransformer", "ModelStore", "Tokenizer", "HDF5Store", "TensorCore"],
        testDeps: [
            "lab", "HDF5Store", "NanoTransformer", "Tokenizer", "ModelStore", "TensorCore", "MLA", "MoE", "Crypto",
        ]),
    LocalPackage(
        name: "RLHF",
        deps: [
            "PolicyGradient", "PostTraining", "RewardBPR", "NanoTransformer", "ExperimentKit", "HDF5Store",
            "TensorCore",
        ],
        experiment: "ppo-rlhf",
        experimentDeps: [
            "PostTraining", "RewardBPR", "NanoTransformer", "ModelStore", "HDF5Store", "TensorCore", "Tokenizer",
        ],
        testDeps: ["Tokenizer", "RewardBPR", "NanoTransformer", "HDF5Store", "ppo-rlhf", "reward-bpr", "base-models"]),
]

/// Executables that are not one package's experiment (benchmarks, tools).
let tools: [(name: String, path: String, deps: [String])] = [
    ("tensorcore-bench", "Benchmarks/TensorCoreBench", ["TensorCore", "CBLAS", "BenchmarkSupport"]),
    ("lab", "Experiments/lab", ["LabNotes", "ExperimentKit"]),
    ("tokenizer-bench", "Benchmarks/TokenizerBench", ["Tokenizer", "BenchmarkSupport"]),
    ("minhash-bench", "Benchmarks/MinHashBench", ["MinHash", "BenchmarkSupport"]),
    ("data-pipeline-bench", "Benchmarks/DataPipelineBench", ["DataPipeline", "BenchmarkSupport"]),
    ("dedup", "Experiments/dedup", ["MinHash"]),
    ("nano-transformer-bench", "Benchmarks/NanoTransformerBench", ["NanoTransformer", "BenchmarkSupport"]),
    ("ppo-bench", "Benchmarks/PPOBench", ["PPO", "BenchmarkSupport"]),
    ("rollout-bench", "Benchmarks/RolloutBench", ["NanoTransformer", "BenchmarkSupport"]),
    ("base-models", "Experiments/base-models", ["PostTraining", "ExperimentKit"]),
    ("sft-bench", "Benchmarks/SFTBench", ["PostTraining", "NanoTransformer", "BenchmarkSupport"]),
    ("reward-bench", "Benchmarks/RewardBench", ["RewardBPR", "PostTraining", "NanoTransformer", "BenchmarkSupport"]),
    ("dpo-bench", "Benchmarks/DPOBench", ["DPO", "PostTraining", "NanoTransformer", "BenchmarkSupport"]),
    (
        "grpo-bench", "Benchmarks/GRPOBench",
        ["GRPO", "GSPO", "MoE", "PostTraining", "NanoTransformer", "Tokenizer", "BenchmarkSupport"]
    ),
    (
        "rlhf-bench", "Benchmarks/RLHFBench",
        ["RLHF", "RewardBPR", "PostTraining", "NanoTransformer", "Tokenizer", "BenchmarkSupport"]
    ),
]

/// Opt-in CPU-specific code generation for the tensor core's own SIMD loops (OpenBLAS picks its
/// kernels at run time either way): `LAB_TARGET_CPU=native swift build`. The project's scripts
/// set it; without it the build targets baseline x86-64 / arm64 and the package stays usable as a
/// remote dependency (SwiftPM refuses unsafe flags there).
let targetCPU = Context.environment["LAB_TARGET_CPU"].flatMap { $0.isEmpty ? nil : $0 }
let tensorCoreSettings: [SwiftSetting] = targetCPU.map { [.unsafeFlags(["-target-cpu", $0])] } ?? []

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

/// Local targets by name; "ArgumentParser" and "Crypto" are products of package dependencies.
func dependencies(_ names: [String]) -> [Target.Dependency] {
    names.map {
        switch $0 {
        case "ArgumentParser": argumentParser
        case "Crypto": .product(name: "Crypto", package: "swift-crypto")
        default: .target(name: $0)
        }
    }
}

var targets: [Target] = [
    .systemLibrary(
        name: "CBLAS", path: "Packages/CBLAS", pkgConfig: "openblas",
        providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
        name: "CHDF5", path: "Packages/CHDF5", pkgConfig: "hdf5",
        providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(
        name: "CMPI", path: "Packages/CMPI", pkgConfig: "ompi",
        providers: [.apt(["libopenmpi-dev"])]),
]
var products: [Product] = []

// Helpers every benchmark shares: the measurement record and the timing rule.
targets.append(.target(name: "BenchmarkSupport", path: "Benchmarks/BenchmarkSupport"))

// Helpers every test target shares: fixture loading, gradient checking.
targets.append(.target(name: "TestSupport", dependencies: ["TensorCore", "LabSupport"], path: "Tests/TestSupport"))
// The GRPO family's test world (GRPOTests, GSPOTests): small addition policies, dense and MoE.
targets.append(
    .target(
        name: "PolicyTestSupport",
        dependencies: ["GRPO", "PostTraining", "MoE", "NanoTransformer", "Tokenizer", "TensorCore", "LabSupport"],
        path: "Tests/PolicyTestSupport"))

/// Every package builds on LabSupport (the one error type, the Sendable box) but LabSupport itself.
func labSupport(_ name: String) -> [String] { name == "LabSupport" ? [] : ["LabSupport"] }

for package in packages {
    targets.append(
        .target(
            name: package.name, dependencies: dependencies(labSupport(package.name) + package.deps),
            path: "Packages/\(package.name)",
            swiftSettings: package.name == "TensorCore" ? tensorCoreSettings : []))
    targets.append(
        .testTarget(
            name: "\(package.name)Tests",
            dependencies: dependencies([package.name, "TestSupport"] + labSupport(package.name) + package.testDeps),
            path: "Tests/\(package.name)Tests",
            exclude: FileManager.default.fileExists(atPath: "\(packageRoot)/Tests/\(package.name)Tests/Fixtures")
                ? ["Fixtures"] : []))
    products.append(.library(name: package.name, targets: [package.name]))
    if let experiment = package.experiment {
        targets.append(
            .executableTarget(
                name: experiment,
                dependencies: dependencies([package.name, "LabSupport"] + package.experimentDeps) + [argumentParser],
                path: "Experiments/\(experiment)", exclude: ["configs"]))
        products.append(.executable(name: experiment, targets: [experiment]))
    }
}
for tool in tools {
    targets.append(
        .executableTarget(
            name: tool.name, dependencies: dependencies(tool.deps + ["LabSupport"]) + [argumentParser], path: tool.path)
    )
    products.append(.executable(name: tool.name, targets: [tool.name]))
}

// `lab export` and `lab import` (Interop). Added after the table rather than in lab's row: a
// manifest that only gains lines leaves every note's recorded runs current (LabNotes' staleness
// rule); fold it into the row when the notes are next rerun.
for target in targets where target.name == "lab" { target.dependencies.append(.target(name: "Interop")) }
// base-models (an experiment-like tool) keeps its configs beside its source, as experiments do.
for target in targets where target.name == "base-models" { target.exclude.append("configs") }

let package = Package(
    name: "llm-pipeline-lab",
    products: products,
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: targets
)
