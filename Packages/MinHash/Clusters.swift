// Duplicate clusters: union-find over candidate (or verified) pairs, and a deterministic
// keep-one-per-cluster policy.

public struct UnionFind: Sendable {
    var parent: [Int]

    public init(count: Int) { parent = Array(0..<count) }

    public mutating func find(_ x: Int) -> Int {
        var root = x
        while parent[root] != root { root = parent[root] }
        var node = x
        while parent[node] != root {
            let next = parent[node]
            parent[node] = root
            node = next
        }
        return root
    }

    /// Joins the sets of x and y; the smaller index becomes the root (so roots are first members).
    public mutating func union(_ x: Int, _ y: Int) {
        let (rx, ry) = (find(x), find(y))
        if rx == ry { return }
        if rx < ry { parent[ry] = rx } else { parent[rx] = ry }
    }

    /// Clusters of two or more members, each sorted, ordered by first member.
    public mutating func clusters() -> [[Int]] {
        var groups: [Int: [Int]] = [:]
        for i in 0..<parent.count { groups[find(i), default: []].append(i) }
        return groups.values.filter { $0.count > 1 }.sorted { $0[0] < $1[0] }
    }
}

public enum KeepPolicy: String, Codable, Sendable {
    /// Keep the member that came first in the input.
    case first
    /// Keep the longest member (ties: the first).
    case longest
}

/// Which document of each cluster survives.
public func survivors(of clusters: [[Int]], lengths: [Int], policy: KeepPolicy) -> [Int] {
    clusters.map { cluster in
        switch policy {
        case .first: return cluster[0]
        case .longest: return cluster.max { (lengths[$0], -$0) < (lengths[$1], -$1) }!
        }
    }
}
