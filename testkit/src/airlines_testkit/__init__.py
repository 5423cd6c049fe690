"""What the tests and benchmarks of airlines-analytics share, kept out of the product and
its images.

- :mod:`~airlines_testkit.oracle`: an independent oracle of the window analytics.
- :mod:`~airlines_testkit.bad_records`: one bad record of every kind the job dead-letters.
- :mod:`~airlines_testkit.hostile`: malformed records mixed into valid traffic.
- :mod:`~airlines_testkit.offset_log`: which records each micro-batch read (Spark's offset log).
- :mod:`~airlines_testkit.job_log`: the job's per-batch log lines.
- :mod:`~airlines_testkit.services`: messages into Kafka, window hashes out of Redis.
- :mod:`~airlines_testkit.stack`: a throwaway local stack, and the CLI run as a process.
- :mod:`~airlines_testkit.chaos`: killing and restarting the stack's brokers and services.
"""
