"""The contract every workflow fulfils, and the set of workflows an application registers."""
