"""Instruction embedding by constraint solving: which loops of a layer sit on which axes of an
accelerator instruction (the "bottom-up" embedding of arXiv 2104.04731), found by CP-SAT."""

from nnmap.embedding.dataflow import InstructionAxis, InstructionDataflow, gemm_instruction
from nnmap.embedding.embedding import Embedding, Placement
from nnmap.embedding.execute import execute, reference
from nnmap.embedding.fixed import fixed_embedding
from nnmap.embedding.layout import OperandLayout, layouts
from nnmap.embedding.solver import EmbeddingSearch, RankedEmbedding, search_embeddings

__all__ = [
    "Embedding",
    "EmbeddingSearch",
    "InstructionAxis",
    "InstructionDataflow",
    "OperandLayout",
    "Placement",
    "RankedEmbedding",
    "execute",
    "fixed_embedding",
    "gemm_instruction",
    "layouts",
    "reference",
    "search_embeddings",
]
