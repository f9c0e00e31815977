"""The only code that talks to MongoDB: connections, observe_* reads, and writes."""
