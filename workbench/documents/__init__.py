"""Run documents: model card, data card, AI Act / GDPR record, the bias probe, and rendering to Markdown/HTML."""
