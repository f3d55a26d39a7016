// What one part of an optimiser step (a shard of its sequences) reports, and how the parts'
// reports become the step's: the losses add up (each is already divided by the whole piece's
// counts), the diagnostics pool (PolicyDiagnostics.pooled), the KL is token-weighted, the entropy
// sums add. Under mpirun every process sends its parts' records to every other (as doubles: MPI
// copies them bit for bit), so every process combines the same records in the same order.
import LabSupport
import PolicyGradient

struct PartRecord {
    var loss: Double
    var diagnostics: PolicyDiagnostics
    /// Mean k3 KL to the reference over the part's tokens (nil without a reference).
    var kl: Double?
    /// The update forward's routing change against π_old (MoE policies).
    var routingChange: Double?
    var entropySum = 0.0
    var entropyTokens = 0.0

    init(loss: Double, diagnostics: PolicyDiagnostics, kl: Double?, routingChange: Double?) {
        (self.loss, self.diagnostics, self.kl, self.routingChange) = (loss, diagnostics, kl, routingChange)
    }

    /// The token-weighted mean KL of the parts (one part's as it is; 0 without a reference).
    static func pooledKL(_ records: [PartRecord]) -> Double {
        if records.count == 1 { return records[0].kl ?? 0 }
        let tokens = records.reduce(0) { $0 + $1.diagnostics.tokens }
        return records.reduce(0) { $0 + ($1.kl ?? 0) * Double($1.diagnostics.tokens) } / Double(max(tokens, 1))
    }

    static let wireCount = 20

    /// The record as `wireCount` doubles: the loss, the diagnostics' 13 numbers, the KL and the
    /// routing change (each a presence flag and a value), the entropy sum and its token count.
    var wire: [Double] {
        let d = diagnostics
        return [
            loss, d.clipLow, d.clipHigh, d.ratioMean, d.ratioMin, d.ratioMax, d.approxKL1, d.approxKL3,
            d.tokenRatioVariance, d.sequenceRatioVariance, Double(d.tokens), Double(d.sequences), d.tokenRatioMean,
            d.sequenceRatioMean, kl == nil ? 0 : 1, kl ?? 0, routingChange == nil ? 0 : 1, routingChange ?? 0,
            entropySum, entropyTokens,
        ]
    }

    /// The records of one process's buffer.
    static func decode(_ buffer: [Double]) throws -> [PartRecord] {
        let n = wireCount
        guard buffer.count % n == 0 else {
            throw LabError(.config, "part records: \(buffer.count) doubles is not a whole number of records of \(n)")
        }
        return try stride(from: 0, to: buffer.count, by: n).map { at in
            let w = Array(buffer[at..<(at + n)])
            guard let tokens = Int(exactly: w[10]), let sequences = Int(exactly: w[11]) else {
                throw LabError(.config, "part records: counts \(w[10]), \(w[11]) are not whole numbers")
            }
            let diagnostics = PolicyDiagnostics(
                clipLow: w[1], clipHigh: w[2], ratioMean: w[3], ratioMin: w[4], ratioMax: w[5], approxKL1: w[6],
                approxKL3: w[7], tokenRatioVariance: w[8], sequenceRatioVariance: w[9], tokens: tokens,
                sequences: sequences, tokenRatioMean: w[12], sequenceRatioMean: w[13])
            var record = PartRecord(
                loss: w[0], diagnostics: diagnostics, kl: w[14] == 1 ? w[15] : nil,
                routingChange: w[16] == 1 ? w[17] : nil)
            (record.entropySum, record.entropyTokens) = (w[18], w[19])
            return record
        }
    }
}
