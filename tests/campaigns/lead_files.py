"""Lead files the campaign tests upload."""

# Keller Williams' office line on two contacts, Jane Doe's mobile is her husband's pet
# shop's phone, and John Smith / John R. Smith share a mobile under two emails (so they
# stay two contacts, at two accounts).
SEED_CSV = (
    "First Name,Last Name,Email,Company,Title,Phone,Mobile,Notes\n"
    "John,Smith,john.smith@kw.example.com,Keller Williams,Broker,+1-212-761-2846,"
    "1 678-999-8212,retired?\n"
    "Priya,Patel,priya.patel@kw.example.com,Keller Williams,Agent,(212) 761-2846,,\n"
    "John R.,Smith,jrsmith@kwrealty.example.com,KW Realty,Agent,,(678)-999 8212,\n"
    "Jane,Doe,jane.doe@example.com,Doe Realty,Owner,,+1 (832) 723-4097,\n"
    "Mark,Doe,mark@petshop.example.com,Petshop Supply,Owner,832 723 4097,,\n"
)
