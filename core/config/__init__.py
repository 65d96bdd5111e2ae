"""Load and validate ``config.yaml`` (every policy shape) and the API secrets.

- ``fields``: ``ConfigError`` and how a field declares its default, range and doc;
- ``blocks``: the frozen blocks (``AppConfig`` down to ``GridConfig``); ``RebalancerConfig``
  holds exactly one policy's own settings (a tagged union);
- ``build``: YAML values -> blocks, with did-you-mean and where-it-belongs hints;
- ``policies``: the ``rebalancer:`` block (policy choice and inference, ``other_policies:``);
- ``secrets``: API keys from the environment / ``.env``;
- ``load``: ``load_config`` / ``config_from_dict`` and the effective view for ``check-config``.
"""

from core.config.blocks import (
    POLICY_NAMES, POLICY_SETTINGS, VENUES, AnchorConfig, AnchorPolicyConfig, ApiConfig, ApiSecrets, AppConfig,
    BaselinePolicyConfig, BiasConfig, EmaConfig, ExecutionConfig, FEE_TIERS, FeesConfig, GridConfig, JournalConfig, PaperConfig,
    PolicySettings, ProposalsConfig, RebalancerConfig, RiskConfig, SimplePolicyConfig, ThresholdsConfig, UiConfig, mask,
)
from core.config.fields import ConfigError
from core.config.load import config_from_dict, effective_config_dict, load_config
from core.config.policies import parse_timeframe_ms
from core.config.secrets import attach_secrets, secret_env_names

__all__ = [
    "POLICY_NAMES", "POLICY_SETTINGS", "VENUES", "AnchorConfig", "AnchorPolicyConfig", "ApiConfig", "ApiSecrets",
    "AppConfig", "BaselinePolicyConfig", "BiasConfig", "ConfigError", "EmaConfig", "ExecutionConfig", "FEE_TIERS",
    "FeesConfig", "GridConfig",
    "JournalConfig", "PaperConfig", "PolicySettings", "ProposalsConfig", "RebalancerConfig", "RiskConfig", "SimplePolicyConfig",
    "ThresholdsConfig", "UiConfig", "attach_secrets", "config_from_dict", "effective_config_dict", "load_config",
    "mask", "parse_timeframe_ms", "secret_env_names",
]
