"""What the tests and benchmarks of airlines-analytics share, kept out of the product and
its images: an independent oracle of the analytics, a catalogue of hostile records, offset
readers and a throwaway local stack."""
