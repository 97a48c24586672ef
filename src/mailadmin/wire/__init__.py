"""How plugins talk: transport, answer reading, dry-run guard, redaction, safe XML."""
