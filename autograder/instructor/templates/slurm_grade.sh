#!/usr/bin/env bash
# Grade @ASSIGNMENT@ on a Slurm cluster: a job array of @SHARDS@ shards, then one job that merges them.
# Written by `dlcourse export slurm`. Every shard grades with the batch's one seed (@SEED@), so a student's grade
# does not depend on the shard they fall in; `dlcourse merge` refuses shards of different batches.
#
#   bash @SCRIPT@          submit: the array, then the merge (sbatch --dependency=afterok)
#   bash @SCRIPT@ merge    merge the shards now (after every shard finished)
#
# Outputs: $OUT/shard-<I>/ per shard (resumable: a shard run again grades only what is missing) and $OUT/merged/
# (grades.csv, report.html, canvas.csv, moodle.csv).
#SBATCH --job-name=dlcourse-@ASSIGNMENT@
#SBATCH --array=1-@SHARDS@
#SBATCH --cpus-per-task=@CPUS@
#SBATCH --mem=@MEM@
#SBATCH --time=@TIME@
#SBATCH --output=@OUT@/logs/%x-%A_%a.out
set -euo pipefail
SUBMISSIONS="${SUBMISSIONS:-@SUBMISSIONS@}"
OUT="${OUT:-@OUT@}"
SEED=@SEED@
SHARDS=@SHARDS@
DLCOURSE="${DLCOURSE:-dlcourse}"   # e.g. "/path/to/venv/bin/dlcourse"

if [ "${1:-}" = "merge" ]; then
    shards=()
    for i in $(seq 1 "$SHARDS"); do shards+=("$OUT/shard-$i"); done
    exec $DLCOURSE merge "${shards[@]}" --out "$OUT/merged"@FORCE@
fi

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
    mkdir -p "$OUT/logs"
    job=$(sbatch --parsable "${BASH_SOURCE[0]}")
    sbatch --dependency="afterok:${job%%;*}" --job-name=dlcourse-@ASSIGNMENT@-merge --cpus-per-task=1 \
        --output="$OUT/logs/%x-%j.out" --wrap "bash '$(realpath "${BASH_SOURCE[0]}")' merge"
    echo "submitted the array $job ($SHARDS shards) and its merge into $OUT/merged"
    exit 0
fi

I="$SLURM_ARRAY_TASK_ID"
exec $DLCOURSE grade-batch @ASSIGNMENT@ "$SUBMISSIONS" --out "$OUT/shard-$I" --shard "$I/$SHARDS" --seed "$SEED" \
    --workers "${SLURM_CPUS_PER_TASK:-1}" --quiet@OPTIONS@
