// The data-pipeline experiment end to end on a small dirty corpus written here (its faults
// recorded per document as Data/dirty-corpus records them) with language identification trained
// on two editions: every fault is caught, no clean document is lost, and every ablation runs; a
// missing corpus is a named error; the model study and the perplexity filter at toy size.
import Foundation
import HDF5Store
import TestSupport
import Testing

@Suite(.serialized) struct DataPipelineExperimentTests {
    static func corpus() throws -> (input: String, editions: String) {
        let folder = temporaryFolder()
        let editions = "\(folder)/editions"
        for lang in ["en", "fr"] {
            try FileManager.default.createDirectory(atPath: "\(editions)/\(lang)", withIntermediateDirectories: true)
            try LanguageIDTests.fixture.train[lang]!.joined(separator: "\n")
                .write(toFile: "\(editions)/\(lang)/ch01.txt", atomically: true, encoding: .utf8)
        }
        let french = LanguageIDTests.fixture.heldout.filter { $0.lang == "fr" }.prefix(8).map(\.text)
            .joined(separator: "\n")
        let letters = Array("qzxv")
        var words: [String] = []
        for i in 0..<80 { words.append(String(repeating: String(letters[i % 4]), count: 2 + i % 7) + "kj") }
        let gibberish = words.joined(separator: " ")
        let pii = PipelineTests.clean + "\nContact jane.7@example.org or call +1 (555) 234-5678; server 192.168.1.20."
        let records: [(String, String, [String], String?)] = [
            ("a", pii, ["pii"], nil), ("b", PipelineTests.other, [], nil), ("c", pii, ["pii", "duplicate"], "a"),
            ("d", french, ["foreign"], nil), ("e", gibberish, ["gibberish"], nil),
        ]
        let lines = try records.map { id, text, injected, copy in
            let object: [String: Any] = [
                "id": id, "text": text, "source": "web", "injected": injected, "copy_of": copy ?? NSNull(),
            ]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        try FileManager.default.createDirectory(atPath: "\(folder)/dirty", withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: "\(folder)/dirty/shard-0.jsonl", atomically: true, encoding: .utf8)
        return ("\(folder)/dirty", editions)
    }

    @Test func everyFaultIsCaughtAndEveryAblationRuns() throws {
        let (input, editions) = try Self.corpus()
        let out = temporaryFolder()
        let set = ["--set", "input=\(input)", "--set", "languageTraining=\(editions)", "--threads", "1"]
        // The pipeline's ablations (the model study's and the perplexity filter's need a corpus
        // and a checkpoint of their own: the tests below).
        let ablations = try experimentAblations("data-pipeline").filter {
            !$0.hasPrefix("model-") && $0 != "with-perplexity" && !$0.contains("classifier")
        }
        #expect(ablations.count == 9)
        for ablation in ablations {
            let result = try runProduct("data-pipeline", ["--ablation", ablation, "--out", out] + set)
            #expect(result.status == 0, "\(ablation): \(result.stderr)")
        }
        let base = try RunResults.load(from: "\(out)/data-pipeline/base/seed-0.h5")
        #expect(base.status == "finished")
        let expected: [String: Double] = [
            "docs/in": 5, "docs/out": 2, "truth/duplicate/removed": 1, "truth/foreign/removed": 1,
            "truth/gibberish/removed": 1, "truth/pii/scrubbed": 1, "truth/clean/removed": 0,
            // Language identification is unsure of the gibberish as well as sure of the French.
            "stage/documentDedup/removed": 1, "stage/language/removed": 2,
        ]
        for (key, value) in expected {
            #expect(base.summary[key] == value, "\(key): \(String(describing: base.summary[key]))")
        }
        let kept = try String(contentsOfFile: "\(out)/data-pipeline/base/seed-0.cleaned/shard-0.jsonl", encoding: .utf8)
        #expect(kept.contains("<EMAIL>") && kept.contains("<PHONE>") && kept.contains("<IP>"))
        // Without the pii stage nothing is scrubbed; without document dedup the copy is kept.
        let noPII = try RunResults.load(from: "\(out)/data-pipeline/no-pii/seed-0.h5")
        #expect(noPII.summary["truth/pii/scrubbed"] == 0)
        let noDedup = try RunResults.load(from: "\(out)/data-pipeline/no-document-dedup/seed-0.h5")
        #expect(noDedup.summary["truth/duplicate/removed"] == 1, "near-dup dedup catches the exact copy too")
    }

    /// Forty clean documents of English sentences in two sources, and four of gibberish.
    static func studyCorpus() throws -> String {
        let folder = temporaryFolder()
        // Pages that pass the quality rules: six different paragraphs each, a line per sentence.
        let fixture = LanguageIDTests.fixture
        let english = (fixture.train["en"]! + fixture.heldout.filter { $0.lang == "en" }.map(\.text))
            .filter { !$0.contains("{") }
        var records: [[String: Any]] = []
        for i in 0..<40 {
            let text = english[(6 * i)..<(6 * i + 6)].map { ".!?".contains($0.last!) ? $0 : $0 + "." }
                .joined(separator: "\n")
            records.append(["id": "doc-\(i)", "text": text, "source": i % 2 == 0 ? "books" : "web", "injected": []])
        }
        for i in 0..<4 {
            let text = (0..<60).map { k in String(repeating: "qzx", count: 1 + (k + i) % 3) + "v" }
                .joined(separator: " ")
            records.append(["id": "junk-\(i)", "text": text, "source": "web", "injected": ["gibberish"]])
        }
        let lines = try records.map {
            String(decoding: try JSONSerialization.data(withJSONObject: $0, options: .sortedKeys), as: UTF8.self)
        }
        try FileManager.default.createDirectory(atPath: "\(folder)/dirty", withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: "\(folder)/dirty/shard-0.jsonl", atomically: true, encoding: .utf8)
        return "\(folder)/dirty"
    }

    /// A toy model study: both arms and the mixing ablation train at toy size on the same held-out
    /// set; the raw mix holds the gibberish the cleaned one does not; a rerun on other threads is
    /// bit-identical.
    @Test func theModelStudyTrainsOnTheRawAndTheCleanedMix() throws {
        let (_, editions) = try Self.corpus()
        let input = try Self.studyCorpus()
        let out = temporaryFolder()
        let set = [
            "--set", "input=\(input)", "--set", "languageTraining=\(editions)", "--set", "modelStudy.heldOut=0.3",
            "--set", "modelStudy.pretraining.tokenizerVocab=300", "--set", "modelStudy.pretraining.model.dModel=16",
            "--set", "modelStudy.pretraining.model.layers=1", "--set", "modelStudy.pretraining.model.heads=2",
            "--set", "modelStudy.pretraining.model.kvHeads=2", "--set", "modelStudy.pretraining.model.contextLength=8",
            "--set", "modelStudy.pretraining.batchSize=2", "--set", "modelStudy.pretraining.steps=4",
            "--set", "modelStudy.pretraining.evalEvery=2", "--set", "modelStudy.pretraining.warmupSteps=1",
            "--set", "modelStudy.mixing.chunkTokens=16", "--set", "pipeline.stages=[\"documentDedup\",\"language\"]",
            "--set", "modelStudy.mixing.weights.quotes=0",
        ]
        for ablation in ["model-raw", "model-cleaned"] {
            let result = try runProduct(
                "data-pipeline", ["--ablation", ablation, "--out", out, "--threads", "1"] + set)
            #expect(result.status == 0, "\(ablation): \(result.stderr)")
        }
        let raw = try RunResults.load(from: "\(out)/data-pipeline/model-raw/seed-0.h5")
        let cleaned = try RunResults.load(from: "\(out)/data-pipeline/model-cleaned/seed-0.h5")
        for run in [raw, cleaned] {
            #expect(run.status == "finished")
            #expect(run.summary["model/val_loss/books"].map { $0.isFinite && $0 > 0 } == true)
            #expect(run.summary["mix/books/epochs"].map { $0 > 0 } == true)
            #expect(run.metrics["loss/val"]?.steps == [2, 4])
        }
        // The gibberish is web text: the raw mix's web stream is longer by it, the books' the same.
        #expect(try #require(raw.summary["mix/web/tokens"]) > #require(cleaned.summary["mix/web/tokens"]))
        #expect(raw.summary["mix/books/tokens"] == cleaned.summary["mix/books/tokens"])
        #expect(raw.summary["truth/gibberish/removed"] == 1)
        // Same config and seed on two threads: bit-identical.
        let again = temporaryFolder()
        let result = try runProduct(
            "data-pipeline", ["--ablation", "model-cleaned", "--out", again, "--threads", "2"] + set)
        #expect(result.status == 0, "\(result.stderr)")
        let rerun = try RunResults.load(from: "\(again)/data-pipeline/model-cleaned/seed-0.h5")
        #expect(rerun.metrics["loss/val"]?.values == cleaned.metrics["loss/val"]?.values)
        #expect(rerun.summary["model/val_loss/books"] == cleaned.summary["model/val_loss/books"])
        // Stopped after step 2 and resumed (a new process: the config must read back the same):
        // the same as uninterrupted.
        let resumed = temporaryFolder()
        let stop = try runProduct(
            "data-pipeline", ["--ablation", "model-cleaned", "--out", resumed, "--stop-at", "2"] + set)
        #expect(stop.status == 0, "\(stop.stderr)")
        let resume = try runProduct(
            "data-pipeline",
            [
                "--ablation", "model-cleaned", "--out", resumed, "--resume",
                "\(resumed)/data-pipeline/model-cleaned/seed-0.ckpt.h5",
            ] + set)
        #expect(resume.status == 0, "\(resume.stderr)")
        let continued = try RunResults.load(from: "\(resumed)/data-pipeline/model-cleaned/seed-0.h5")
        #expect(continued.metrics["loss/val"]?.values == cleaned.metrics["loss/val"]?.values)
        #expect(continued.summary["model/val_loss/web"] == cleaned.summary["model/val_loss/web"])
        // A held-out set with no document longer than a window is named (not the corpus' name).
        let nothing = try runProduct(
            "data-pipeline",
            ["--ablation", "model-raw", "--out", temporaryFolder()] + set + [
                "--set", "modelStudy.pretraining.model.contextLength=100000",
            ])
        #expect(nothing.status != 0)
        #expect(nothing.stderr.contains("key 'modelStudy.heldOut': 0.3 holds out"), "\(nothing.stderr)")
    }

    /// The classifier, trained on two splits of the input, removes the input's lowest-scoring
    /// 10 % (in place of the rules or after them); too small an input is named.
    @Test func theClassifierRemovesTheLowestScoringShare() throws {
        let (_, editions) = try Self.corpus()
        let input = try Self.studyCorpus()
        let out = temporaryFolder()
        let set = ["--set", "input=\(input)", "--set", "languageTraining=\(editions)", "--threads", "1"]
        for ablation in ["with-classifier", "classifier-not-rules"] {
            let result = try runProduct("data-pipeline", ["--ablation", ablation, "--out", out] + set)
            #expect(result.status == 0, "\(ablation): \(result.stderr)")
        }
        let run = try RunResults.load(from: "\(out)/data-pipeline/classifier-not-rules/seed-0.h5")
        #expect(run.summary["classifier/threshold"] != nil)
        // 44 documents: the threshold is the 5th lowest score (index 4.3 rounded down), so the
        // four below it go, unless an earlier stage took them first.
        #expect(run.summary["stage/classifier/removed"].map { $0 >= 1 && $0 <= 4 } == true)
        #expect(run.summary["classifier/auc_clean_vs_gibberish"].map { $0 >= 0 && $0 <= 1 } == true)
        let (small, _) = try Self.corpus()
        let tooSmall = try runProduct(
            "data-pipeline",
            ["--ablation", "with-classifier", "--out", temporaryFolder(), "--set", "input=\(small)"] + set.dropFirst(2))
        #expect(tooSmall.status != 0)
        #expect(tooSmall.stderr.contains("classifier: the input's reference split holds 0 fault-free documents"))
        let badEpochs = try runProduct(
            "data-pipeline",
            ["--ablation", "with-classifier", "--out", temporaryFolder(), "--set", "classifier.epochs=0"] + set)
        #expect(badEpochs.status != 0)
        #expect(badEpochs.stderr.contains("classifier.epochs: 0 must be in 1...10000"), "\(badEpochs.stderr)")
    }

    /// The perplexity filter with a toy checkpoint: cutoffs fitted, the tail removed; a missing
    /// checkpoint is named.
    @Test func thePerplexityFilterScoresWithACheckpoint() throws {
        let (_, editions) = try Self.corpus()
        let input = try Self.studyCorpus()
        let models = temporaryFolder()
        let trained = try runProduct(
            "nano-transformer",
            [
                "--out", models, "--steps", "2", "--set", "data=sample", "--set", "tokenizerVocab=300", "--set",
                "model.dModel=16", "--set", "model.layers=1", "--set", "model.contextLength=16", "--set",
                "contextEvaluation=false", "--set", "inferenceBenchmark=false", "--set", "evalEvery=1",
            ])
        #expect(trained.status == 0, "\(trained.stderr)")
        let out = temporaryFolder()
        let set = [
            "--set", "input=\(input)", "--set", "languageTraining=\(editions)", "--threads", "1",
            "--set", "perplexityModel=\(models)/nano-transformer/base/seed-0.ckpt.h5",
        ]
        let result = try runProduct("data-pipeline", ["--ablation", "with-perplexity", "--out", out] + set)
        #expect(result.status == 0, "\(result.stderr)")
        let run = try RunResults.load(from: "\(out)/data-pipeline/with-perplexity/seed-0.h5")
        #expect(run.summary["stage/perplexity/removed"].map { $0 > 0 } == true)
        let kept = try String(
            contentsOfFile: "\(out)/data-pipeline/with-perplexity/seed-0.cleaned/shard-0.jsonl", encoding: .utf8)
        #expect(kept.contains("\"perplexity_bucket\""))
        let missing = try runProduct(
            "data-pipeline",
            ["--ablation", "with-perplexity", "--out", temporaryFolder()] + set.dropLast(2)
                + ["--set", "perplexityModel=\(models)/none.h5"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("perplexityModel: \(models)/none.h5 does not exist"))
    }

    @Test func aMissingCorpusIsNamed() throws {
        let out = temporaryFolder()
        let result = try runProduct("data-pipeline", ["--out", out, "--set", "input=\(out)/nothing", "--threads", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("input: \(out)/nothing holds no shard-*.jsonl (Data/dirty-corpus writes them)"))
    }
}
