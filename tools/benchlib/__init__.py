"""What the benchmark tools share: the workload and its expected
answers, the timed queries, scratch databases and the floor."""
