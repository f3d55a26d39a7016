import CHDF5
// Errors from HDF5 files: one line naming the file and the object at fault. libhdf5's own
// error-stack printing is switched off; its innermost message is folded into ours instead.
import LabSupport

enum HDF5Library {
    /// Silences libhdf5's automatic error printing, once per process.
    static let quiet: Void = {
        H5Eset_auto2(chdf5_e_default(), nil, nil)
    }()

    /// The innermost message on libhdf5's current error stack, if any (then clears it).
    static func lastMessage() -> String? {
        var messages: [String] = []
        _ = withUnsafeMutablePointer(to: &messages) { box in
            H5Ewalk2(
                chdf5_e_default(), H5E_WALK_DOWNWARD,
                { _, error, client in
                    if let error, let desc = error.pointee.desc, let client {
                        client.assumingMemoryBound(to: [String].self).pointee.append(String(cString: desc))
                    }
                    return 0
                }, box)
        }
        H5Eclear2(chdf5_e_default())
        return messages.last { !$0.isEmpty }
    }

    /// An error whose message ends with libhdf5's reason when it gave one.
    static func failure(_ message: String) -> LabError {
        if let reason = lastMessage() { return LabError(.hdf5, "\(message) (\(reason))") }
        return LabError(.hdf5, message)
    }
}
