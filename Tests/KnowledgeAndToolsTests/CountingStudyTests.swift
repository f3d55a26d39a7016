// The counting experiment: its tasks (eval prompts never among the training ones, the same for
// every seed), the tokenizers (bytes only: 256 + the special tokens), the accuracy table on a hand
// example, every ablation end to end at toy size, and bad configs named by key.
import Foundation
import HDF5Store
import KnowledgeAndTools
import LabSupport
import PostTraining
import TestSupport
import Testing

@Suite(.serialized) struct CountingStudyTests {
    @Test func tasksAndTokenizers() throws {
        var c = CountingConfig()
        (c.trainTasks, c.evalTasks) = (300, 40)
        let (train, eval) = try CountingStudy.tasks(c)
        #expect(train.count == 300 && eval.count == 40)
        #expect(Set(train.map(\.prompt)).isDisjoint(with: eval.map(\.prompt)))
        #expect(try CountingStudy.tasks(c).train == train, "fixed by their own seed")
        #expect(Set(train.map(\.kind)) == Set(CountingKind.allCases))
        c.tokenizerVocab = 0
        let bytes = try CountingStudy.tokenizer(c, train: train)
        #expect(bytes.vocabSize == 256 + ConversationFormat.specialTokens.count)
        #expect(bytes.encode(" strawberry").count == 11, "a token per byte")
        c.tokenizerVocab = 512
        #expect(try CountingStudy.tokenizer(c, train: train).encode(" strawberry").count < 11)
        let spelled = CountingTask(kind: .lettersInWord, letter: "r", items: ["berry"], count: 2)
        #expect(spelled.prompt(spelled: true) == "How many times does the letter r occur in b e r r y?")
    }

    @Test func accuracyByKindAndCount() {
        let tasks = [
            CountingTask(kind: .lettersInWord, letter: "a", items: ["banana"], count: 3),
            CountingTask(kind: .lettersInWord, letter: "b", items: ["banana"], count: 1),
            CountingTask(kind: .itemsInList, letter: "", items: ["cat"], count: 1),
            CountingTask(kind: .itemsInList, letter: "", items: ["cat", "dog", "cat"], count: 3),
        ]
        let m = CountingStudy.accuracy(tasks, correct: [true, false, true, true])
        #expect(m["eval/accuracy"] == 0.75 && m["eval/accuracy/lettersInWord"] == 0.5)
        #expect(m["eval/accuracy/itemsInList"] == 1 && m["eval/accuracy/count_1"] == 0.5)
        #expect(m["eval/accuracy/count_3"] == 1 && m.count == 5)
    }

    /// The counting part's ablations (StagesTests runs the others).
    static let ablations = ["base", "bytes", "bpe-2048", "spelled"]

    static let toy = [
        "--set", "counting.trainTasks=200", "--set", "counting.evalTasks=20", "--set", "counting.sft.epochs=1",
        "--set", "counting.evalEvery=3", "--threads", "1",
    ]

    @Test func everyAblationRunsAtToySize() throws {
        let out = temporaryFolder()
        let ablations = Self.ablations
        for ablation in ablations {
            let result = try runProduct("knowledge-and-tools", ["--ablation", ablation, "--out", out] + Self.toy)
            #expect(result.status == 0, "\(ablation): \(result.stderr)")
        }
        var wordTokens: [String: Double] = [:]
        for ablation in ablations {
            let r = try RunResults.load(from: "\(out)/knowledge-and-tools/\(ablation)/seed-0.h5")
            try #require(r.status == "finished", "\(ablation)")
            for key in ["eval/accuracy", "eval/accuracy/lettersInWord", "eval/accuracy/itemsInList"] {
                let values = r.metrics[key]?.values ?? []
                #expect(!values.isEmpty && values.allSatisfy { (0...1).contains($0) }, "\(ablation): \(key)")
            }
            wordTokens[ablation] = r.summary["data/word_tokens"]
        }
        // Bytes: a token per letter; a larger BPE vocabulary, fewer tokens per word.
        #expect(wordTokens["bytes"]! > wordTokens["base"]! && wordTokens["base"]! > wordTokens["bpe-2048"]!)
    }

    @Test func badConfigsAreNamedByKey() throws {
        let out = temporaryFolder()
        for (set, key) in [
            ("counting.tokenizerVocab=100", "counting.tokenizerVocab"), ("counting.maxCount=-1", "counting.maxCount"),
            ("counting.kinds=[]", "counting.kinds"),
            ("counting.model.contextLength=16", "counting.model.contextLength"),
            ("counting.model.vocabSize=300", "counting.model.vocabSize"),
        ] {
            let result = try runProduct("knowledge-and-tools", ["--out", out, "--set", set] + Self.toy)
            #expect(result.status != 0 && result.stderr.contains(key), "\(set): \(result.stderr)")
        }
    }
}
