"""Pure calculations: NHS number checks, Discharge Ready Date, delay buckets, primary reason."""
