"""After comparison: ship the tuned model as merged safetensors, GGUF, a local OpenAI-compatible endpoint, with its cost per call."""
