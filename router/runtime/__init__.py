"""The imperative shell at run time: provider health, in-flight counts, dispatching."""
