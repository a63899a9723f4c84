"""The mapping engine: cost model, optimal search, baselines and whole-graph mapping."""

from nnmap.mapping.cost import cost
from nnmap.mapping.model import Cost, Mapping
from nnmap.mapping.search import SearchResult, search, search_result

__all__ = ["Cost", "Mapping", "SearchResult", "cost", "search", "search_result"]
