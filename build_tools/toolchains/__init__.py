"""One adapter module per external tool. Every other module calls the adapter, never the tool."""
