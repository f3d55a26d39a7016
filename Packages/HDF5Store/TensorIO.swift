// Tensors in HDF5: float32 datasets with the tensor's shape, read back with a shape check.
import LabSupport
import TensorCore

extension HDF5File {
    /// Writes `tensor` as a float32 dataset of its shape.
    public func write(_ tensor: Tensor, to datasetPath: String, options: DatasetOptions = DatasetOptions()) throws {
        try write(tensor.array, shape: tensor.shape, to: datasetPath, options: options)
    }

    /// Reads a float32 dataset as a tensor; with `shape`, a different stored shape is an error.
    public func readTensor(from datasetPath: String, shape expected: [Int]? = nil) throws -> Tensor {
        let (values, shape) = try read(Float.self, from: datasetPath)
        if let expected, expected != shape {
            throw LabError(.hdf5, "\(path): tensor '\(datasetPath)' has shape \(shape), expected \(expected)")
        }
        return Tensor(values, shape: shape)
    }
}
