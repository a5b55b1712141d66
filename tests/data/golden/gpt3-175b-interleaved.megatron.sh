#!/usr/bin/env bash
# Megatron-LM core_v0.15.0 for plan gpt3-175b on 1024 x a100-80g (dgx-a100), written by shardplan
# strategy: dp=16,tp=8,pp=8,vp=2,sp,zero=1,recompute=selective,mbs=1,schedule=interleaved,tp_comm_overlap
# global batch 1536 x 2048 tokens, 96 micro-batches of 1 per replica
# predicted: 1.250 s/step, 100000 tokens/s, MFU 50.0%, peak memory 11.41 GiB/GPU
# run on each of the 128 node(s) with NODE_RANK (0..127) and MASTER_ADDR (node 0) set;
# add data, tokenizer (vocabulary 51200), optimizer and checkpoint arguments after the script name
set -euo pipefail
export CUDA_DEVICE_MAX_CONNECTIONS=1

MODEL_ARGS=(
  --num-layers 96
  --hidden-size 12288
  --num-attention-heads 96
  --ffn-hidden-size 49152
  --seq-length 2048
  --max-position-embeddings 2048
)

PARALLEL_ARGS=(
  --tensor-model-parallel-size 8
  --pipeline-model-parallel-size 8
  --context-parallel-size 1
  --num-layers-per-virtual-pipeline-stage 6
  --sequence-parallel
  --tp-comm-overlap
  --use-distributed-optimizer
  --overlap-grad-reduce
  --overlap-param-gather
)

TRAINING_ARGS=(
  --micro-batch-size 1
  --global-batch-size 1536
  --bf16
  --recompute-granularity selective
)

torchrun --nnodes 128 --nproc-per-node 8 --node-rank "${NODE_RANK:-0}" \
  --master-addr "${MASTER_ADDR:-localhost}" --master-port "${MASTER_PORT:-6000}" \
  pretrain_gpt.py "${MODEL_ARGS[@]}" "${PARALLEL_ARGS[@]}" "${TRAINING_ARGS[@]}" "$@"
