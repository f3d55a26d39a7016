// The preference world: quotations read from fortunes text as written (attributions dropped, CRLF,
// blank entries), prompts as openings, a stable disjoint split, and the true reward as VADER's.
import LabSupport
import PostTraining
import TestSupport
import Testing

@Suite struct PreferenceWorldTests {
    @Test func quotationsAreReadWithoutTheirAttributions() {
        let text = """
            Absence diminishes mediocre passions and increases great ones,
            as the wind blows out candles and fans fires.
            \t\t-- La Rochefoucauld
            \t\t   Maxims, 1665
            %
            %
            A woman was in love with fourteen soldiers.\r
            It was clearly platoonic.\r
            %\r
            Q: What's a dilemma?  A: A two-headed llama.
            """
        #expect(
            PreferenceWorld.quotations(in: text) == [
                "Absence diminishes mediocre passions and increases great ones, as the wind blows out candles and fans fires.",
                "A woman was in love with fourteen soldiers. It was clearly platoonic.",
                "Q: What's a dilemma? A: A two-headed llama.",
            ])
    }

    @Test func promptsAreOpeningsAndTheSplitIsStable() throws {
        let world = try PreferenceWorld(vader: vader(), promptWords: 4)
        #expect(
            world.prompt(of: "Absence diminishes mediocre passions and increases")
                == "Absence diminishes mediocre passions")
        #expect(world.prompt(of: "Too short to continue") == nil)
        let quotations = (0..<2000).map { "quotation number \($0) says something" }
        let (train, heldOut) = PreferenceWorld.split(quotations)
        #expect(Set(train).isDisjoint(with: heldOut) && train.count + heldOut.count == 2000)
        #expect((150...250).contains(heldOut.count), "\(heldOut.count) of 2000 held out at 10 %")
        // The split is a function of the text alone: order and company do not matter.
        let again = PreferenceWorld.split(quotations.reversed() + ["another one entirely"])
        #expect(Set(again.heldOut).subtracting(["another one entirely"]) == Set(heldOut))
        expectLabError(.config) { try PreferenceWorld(vader: vader(), promptWords: 0) }
        expectLabError(.config) { try PreferenceWorld.quotations(folder: temporaryFolder() + "/none") }
    }

    @Test func theTrueRewardIsVADERsCompound() throws {
        let world = try PreferenceWorld(vader: vader())
        let v = try vader()
        for text in ["what a wonderful, happy day!", "this is terrible and I hate it.", "the table is brown."] {
            #expect(world.trueReward(text) == v.scores(text).compound)
        }
        #expect(world.trueReward("what a wonderful, happy day!") > 0.5)
        #expect(world.trueReward("this is terrible and I hate it.") < -0.5)
        #expect(world.trueReward("the table is brown.") == 0)
    }
}
