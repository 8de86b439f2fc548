"""The consumer: loads the champion bundle and answers gRPC requests from memory."""
