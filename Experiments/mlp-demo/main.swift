// mlp-demo: the experiment kit's worked example (Packages/ExperimentKit/MLPDemo.swift).
import ExperimentKit

ExperimentCommand<MLPDemo>.main()
