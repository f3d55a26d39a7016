// ExperimentKit test helpers beyond TestSupport's (temporary folders, running products).
import Foundation
@_exported import TestSupport
