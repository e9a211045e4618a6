"""Local emulator of Twilio's Authy phone-number export API, for tests and benchmarks."""

from authy_assets.emulator.app import create_app
from authy_assets.emulator.config import EmulatorConfig, parse_latency_option
from authy_assets.emulator.population import PhoneUser, Population, RawResponse, generate_user
from authy_assets.emulator.population_file import PopulationFileError, load_population_file
from authy_assets.emulator.server import RunningEmulator, serve_forever, start_emulator

__all__ = [
    "EmulatorConfig",
    "PhoneUser",
    "Population",
    "PopulationFileError",
    "RawResponse",
    "RunningEmulator",
    "create_app",
    "generate_user",
    "load_population_file",
    "parse_latency_option",
    "serve_forever",
    "start_emulator",
]
