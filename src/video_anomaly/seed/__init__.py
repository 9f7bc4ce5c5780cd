"""The seed's model and its exact protocol: the ConvLSTM autoencoder (``models/``), its recipe (``config``), training
clips, training, checkpoints, inference over a stream, the exact scoring and the ONNX export."""
